"""Rows of a table as seed documents: JSON Lines, JSON, CSV and Parquet, one row one document.

Every format is read streaming: JSONL and CSV a line at a time, a JSON array an item at a time,
Parquet a batch (or, when rows are picked, a row group) at a time; a reader that is stopped
early (`--max-seeds`) has read only what it gave. Where the row count is known (Parquet), `spread`
picks that many rows evenly over the file and reads only the row groups that hold them.

A missing column, a value that is not text, a malformed line, a row over MAX_ROW_BYTES and an
empty file are refused with one line naming the file, the row and the problem. A row whose text is
empty or null is given with empty text: the caller skips and counts it, as it does an empty file.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from retrieval.seeds import MAX_FILE_BYTES, SeedError, SeedOptions

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
BUFFER = 1 << 16  # characters a JSON array is read in
MAX_ITEM_CHARS = 64 << 20  # one JSON item larger than this is taken for a malformed file
# One row's text may be as large as a text file: a single huge row must not get round the limit a
# file has (a 300 MiB JSONL line took 1.8 GB to parse). JSONL and CSV stop reading a row at it.
MAX_ROW_BYTES = MAX_FILE_BYTES


class Row(NamedTuple):
    """One row's document: its 0-based number, text ("" when empty or null), corpus id, language."""

    number: int
    text: str
    corpus_id: str | None
    language: str | None


def picks(total: int, count: int) -> list[int]:
    """`count` row indices spread evenly over `total` rows (all of them when count >= total)."""
    if count >= total:
        return list(range(total))
    return [int(i * total / count) for i in range(count)]


def hint(column: str, options: SeedOptions) -> str:
    """What to do about a missing column: the option that names it."""
    flag = {options.text_field: "--text-field", options.id_field: "--id-field", options.language_field: "--language-field"}
    return f"; name the column with {flag[column]}" if column in flag else ""


def wanted_columns(where: Path, names: list[str], options: SeedOptions) -> list[str]:
    """The columns the options name, each checked against a table's or dataset's own."""
    columns = [c for c in (options.text_field, options.id_field, options.language_field) if c is not None]
    for column in columns:
        if column not in names:
            raise SeedError(f"{where}: no '{column}' column (it has: {', '.join(names[:12])}){hint(column, options)}")
    return columns


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def make_row(values: Mapping[str, Any], where: str, index: int, options: SeedOptions) -> Row:
    """A row's document from its values, or a SeedError naming `where` (the file and row)."""
    for field in (options.text_field, options.id_field, options.language_field):
        if field is not None and field not in values:
            fields = ", ".join(list(values)[:12]) or "none"
            raise SeedError(f"{where}: no '{field}' field (it has: {fields}){hint(field, options)}")
    text = values[options.text_field]
    if text is not None and not isinstance(text, str):
        raise SeedError(f"{where}: '{options.text_field}' is a {_kind(text)}, not text")
    corpus_id = values[options.id_field] if options.id_field else None
    if isinstance(corpus_id, dict | list):
        raise SeedError(f"{where}: '{options.id_field}' is a {_kind(corpus_id)}, not an id")
    language = values[options.language_field] if options.language_field else None
    if language is not None and not isinstance(language, str):
        raise SeedError(f"{where}: '{options.language_field}' is a {_kind(language)}, not a language name")
    if text and len(text) > MAX_ROW_BYTES // 4 and (size := len(text.encode("utf-8", "replace"))) > MAX_ROW_BYTES:
        raise SeedError(f"{where}: {over_limit(size)}")
    return Row(index, text or "", None if corpus_id is None else str(corpus_id), language or None)


def over_limit(size: int | None) -> str:
    """Why a row is refused for its size (None: how far over it is not known)."""
    known = "" if size is None else f" is {size >> 20} MiB,"
    return f"the row{known} over the {MAX_ROW_BYTES >> 20} MiB limit for a row"


def _json_reason(exc: json.JSONDecodeError) -> str:
    """The decoder's message as words: 'Invalid control character at' reads 'invalid control character'."""
    reason = re.sub(r"( starting)? at$", "", exc.msg)
    return reason[:1].lower() + reason[1:]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SeedError(f"{where}: a JSON {_kind(value)}, not an object with fields")
    return value


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Lines read at most MAX_ROW_BYTES at a time: a longer one is measured, never held whole."""
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_ROW_BYTES + 1):
            number += 1
            where = f"{path}: line {number}"
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                size = len(raw)
                while rest := handle.readline(1 << 20):
                    size += len(rest)
                    if rest.endswith(b"\n"):
                        break
                raise SeedError(f"{where}: {over_limit(size)}")
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise SeedError(f"{where}: not valid UTF-8") from None
            except json.JSONDecodeError as exc:
                raise SeedError(f"{where}: malformed JSON ({_json_reason(exc)}, column {exc.colno})") from None
            yield where, _object(value, where)


class _Chars:
    """A text file read in pieces, for the JSON array reader."""

    def __init__(self, handle: Any):
        self.handle, self.text, self.pos, self.eof = handle, "", 0, False

    def more(self) -> bool:
        if self.eof:
            return False
        piece = self.handle.read(BUFFER)
        self.eof = not piece
        self.text = self.text[self.pos :] + piece
        self.pos = 0
        return not self.eof

    def next_char(self) -> str:
        """The next character that is not white space ("" at the end), consumed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.text):
                self.pos += 1
                return self.text[self.pos - 1]
            if not self.more():
                return ""


def _json_array(path: Path, chars: _Chars) -> Iterator[tuple[str, dict[str, Any]]]:
    decoder = json.JSONDecoder()
    number = 0
    while True:
        first = chars.next_char()
        if first == "]" and number == 0:
            return
        if not first:
            raise SeedError(f"{path}: item {number}: the file ends before the array closes")
        chars.pos -= 1
        where = f"{path}: item {number}"
        while True:
            try:
                value, chars.pos = decoder.raw_decode(chars.text, chars.pos)
                break
            except json.JSONDecodeError as exc:
                if len(chars.text) - chars.pos > MAX_ITEM_CHARS or not chars.more():
                    raise SeedError(f"{where}: malformed JSON ({_json_reason(exc)})") from None
        yield where, _object(value, where)
        number += 1
        after = chars.next_char()
        if after == "]":
            return
        if after != ",":
            raise SeedError(f"{where}: malformed JSON (expected ',' or ']' after it)")


def _json(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """A JSON array of objects, read an item at a time; else the file is taken for JSON Lines."""
    try:
        with path.open(encoding="utf-8") as handle:
            chars = _Chars(handle)
            first = chars.next_char()
            if first == "[":
                yield from _json_array(path, chars)
                return
    except UnicodeDecodeError:
        raise SeedError(f"{path}: not valid UTF-8") from None
    yield from _jsonl(path)


def _csv_problem(exc: csv.Error) -> str:
    reason = str(exc)
    if reason == "unexpected end of data":
        return "unterminated quoted field"
    if reason.startswith("field larger than field limit"):
        return f"{over_limit(None)} (or a quote is never closed)"
    return f"malformed CSV ({reason})"


def _csv(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Strict CSV: a quote left open is an error, not a field that swallows the lines after it. A
    field is read up to the row limit (a document per cell: cells are long, never unbounded)."""
    csv.field_size_limit(MAX_ROW_BYTES)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, strict=True)
        start = 1  # the line the next record starts on
        try:
            header = reader.fieldnames
            if not header:
                return
            start = reader.line_num + 1
            for record in reader:
                where = f"{path}: line {reader.line_num}"
                if None in record or None in record.values():
                    raise SeedError(f"{where}: the row's fields do not match the header's {len(header)}")
                yield where, record
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise SeedError(f"{path}: line {reader.line_num + 1}: not valid UTF-8") from None
        except csv.Error as exc:
            raise SeedError(f"{path}: line {start}: {_csv_problem(exc)}") from None


def _parquet(path: Path, options: SeedOptions, spread: int | None) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SeedError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    schema = table.schema_arrow
    columns = wanted_columns(path, schema.names, options)
    kind = schema.field(options.text_field).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise SeedError(f"{path}: column '{options.text_field}' holds {kind}, not text")
    total = table.metadata.num_rows
    if total == 0:
        return
    if spread is not None and spread < total:
        yield from _parquet_picks(path, table, columns, picks(total, spread), options)
        return
    index = 0
    for batch in table.iter_batches(batch_size=1024, columns=columns):
        for values in batch.to_pylist():
            yield make_row(values, f"{path}: row {index}", index, options)
            index += 1


def _parquet_picks(path: Path, table: Any, columns: list[str], rows: list[int], options: SeedOptions) -> Iterator[Row]:
    """The picked rows, reading only the row groups that hold them."""
    start = 0
    wanted = iter(rows)
    row = next(wanted, None)
    for group in range(table.metadata.num_row_groups):
        end = start + table.metadata.row_group(group).num_rows
        local = []
        while row is not None and row < end:
            local.append(row)
            row = next(wanted, None)
        if local:
            part = table.read_row_group(group, columns=columns).take([r - start for r in local]).to_pylist()
            for index, values in zip(local, part, strict=True):
                yield make_row(values, f"{path}: row {index}", index, options)
        start = end


READERS = {".jsonl": _jsonl, ".ndjson": _jsonl, ".json": _json, ".csv": _csv}


def _numbered(records: Iterable[tuple[str, Mapping[str, Any]]], options: SeedOptions) -> Iterator[Row]:
    for index, (where, values) in enumerate(records):
        yield make_row(values, where, index, options)


def read_table(path: Path, options: SeedOptions, spread: int | None = None) -> Iterator[Row]:
    """The rows of one table file, in order (or `spread` of them, evenly, where the count is known)."""
    suffix = path.suffix.lower()
    rows = _parquet(path, options, spread) if suffix == ".parquet" else _numbered(READERS[suffix](path), options)
    empty = True
    for row in rows:
        empty = False
        yield row
    if empty:
        raise SeedError(f"{path}: the file holds no rows")
