"""Seeds from wherever a corpus lives: the one place that says which reader a `--seeds` takes.

    a .txt/.md file           the file (a .md, or any converted document, is cut at headings first)
    .pdf .html .htm .docx .pptx  converted to Markdown (retrieval.documents), per page or slide
    .jsonl .json .csv .parquet   one row one document (retrieval.tabular), the text in --text-field
    a save_to_disk folder     its rows (retrieval.hub), as is hf:NAME[:CONFIG][@SPLIT], streamed
    a folder                  every file above below it (and every saved dataset), in name order

For code skills (tool use) a file is a code file of a known language, a table or a dataset of
code rows (the language in --language-field), and a folder means its code files. Code is cut
at top-level definitions (retrieval.code_chunks), as the code index cuts it.

Reading streams: every reader yields a document at a time, so `--max-seeds` stops reading as soon
as it has its seeds. A document (file, row, page) with no text is skipped, with a warning, and
counted; anything malformed is refused with one line naming where and what.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

from loguru import logger
from pydantic import BaseModel, Field

from retrieval.chunking import chunk_markdown
from retrieval.code_chunks import CODE_LANGUAGES, code_language, language_of, pack_blocks, top_level_blocks
from retrieval.documents import DOCUMENT_SUFFIXES, read_document
from retrieval.hub import is_hub, is_saved_dataset, read_hub, read_saved
from retrieval.seeds import Seed, SeedError, SeedLineage, SeedOptions, read_text_file, seed_id
from retrieval.tabular import TABLE_SUFFIXES, Row, read_table

SeedKind = Literal["text", "code"]
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SEED_SUFFIXES = TEXT_SUFFIXES + DOCUMENT_SUFFIXES + TABLE_SUFFIXES


class Document(NamedTuple):
    """One document before it is cut: a file, a page or slide, or a row."""

    source: str
    text: str
    lineage: SeedLineage
    markdown: bool = True  # cut at Markdown headings first (not for .txt files)


class SeedRead(BaseModel):
    """The seeds a source gave, and how many of its documents (files, rows, pages) had no text."""

    seeds: list[Seed]
    skipped: int = Field(0, description="documents with no text, skipped")


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def checked(path: Path) -> Path:
    """The path, if it names a file or folder. A symlink loop is told apart from a missing path, and
    a device or FIFO is refused rather than taken for an empty folder or read forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SeedError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise SeedError(f"{path}: {'symlink loop' if exc.errno == errno.ELOOP else exc.strerror}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise SeedError(f"{path}: not a regular file or folder")
    return path


def seed_entries(path: Path) -> list[Path]:
    """The seed files below a folder (not README.md), and its saved datasets (not looked into)."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(path):
        here = Path(folder)
        if here != path and (not _visible(here, path) or is_saved_dataset(here)):
            if _visible(here, path):
                found.append(here)
            subfolders.clear()
            continue
        subfolders.sort()
        found += [here / f for f in files if Path(f).suffix.lower() in SEED_SUFFIXES and f.lower() != "readme.md"
                  and not f.startswith(".")]  # fmt: skip
    if not found:
        raise SeedError(f"{path}: folder holds no seed files ({', '.join(SEED_SUFFIXES)}) or saved datasets")
    return sorted(found)


def code_files(path: Path) -> list[Path]:
    """The code files a path names: the file itself (a known language), or every one below a folder."""
    if checked(path).is_file():
        if language_of(path.suffix) is None:
            raise SeedError(f"{path}: not a code file of a known language ({', '.join(sorted(CODE_LANGUAGES))})")
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and language_of(p.suffix) and _visible(p, path))
    if not files:
        raise SeedError(f"{path}: folder holds no code files ({', '.join(sorted(CODE_LANGUAGES))})")
    return files


def _row_documents(source: str, rows: Iterator[Row], kind: SeedKind) -> Iterator[Document]:
    for row in rows:
        language = code_language(row.language) if kind == "code" else row.language
        yield Document(source, row.text, SeedLineage(row=row.number, corpus_id=row.corpus_id, language=language))


def _file_documents(path: Path, kind: SeedKind, options: SeedOptions, spread: int | None) -> Iterator[Document]:
    suffix = checked(path).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        yield from _row_documents(str(path), read_table(path, options, spread), kind)
    elif kind == "code":
        language = language_of(suffix)
        if language is None:
            raise SeedError(
                f"{path}: not a code file of a known language ({', '.join(sorted(CODE_LANGUAGES))}), "
                f"a table ({', '.join(TABLE_SUFFIXES)}) or a saved dataset"
            )
        yield Document(str(path), read_text_file(path), SeedLineage(language=language))
    elif suffix in DOCUMENT_SUFFIXES:
        for page in read_document(path):
            yield Document(str(path), page.markdown, SeedLineage(page=page.number))
    else:  # .md, .txt, or any text file named on its own
        yield Document(str(path), read_text_file(path), SeedLineage(), markdown=suffix != ".txt")


def documents(source: str | Path, kind: SeedKind, options: SeedOptions) -> Iterator[Document]:
    """Every document of a source, in order, read lazily. Where a single table's or dataset's row
    count is known, `--max-seeds` rows are picked evenly over it."""
    if is_hub(source):
        yield from _row_documents(str(source), read_hub(str(source), options), kind)
        return
    path = checked(Path(source))
    if is_saved_dataset(path):
        yield from _row_documents(str(path), read_saved(path, options, options.max_seeds), kind)
    elif path.is_file():
        yield from _file_documents(path, kind, options, options.max_seeds)
    elif kind == "code":
        for file in code_files(path):
            yield from _file_documents(file, kind, options, None)
    else:
        for entry in seed_entries(path):
            if entry.is_dir():
                yield from _row_documents(str(entry), read_saved(entry, options), kind)
            else:
                yield from _file_documents(entry, kind, options, None)


def cut(document: Document, kind: SeedKind, options: SeedOptions) -> list[Seed]:
    """A document's seeds: code at top-level definitions, text at headings then paragraphs."""
    if kind == "code":
        pieces = pack_blocks(top_level_blocks(document.text, document.lineage.language or "text"), options.chunk_chars)
        chunks = [(piece, document.lineage) for piece in pieces]
    else:
        chunks = [
            (c.text, document.lineage.model_copy(update={"headings": c.headings}))
            for c in chunk_markdown(document.text.strip(), options.chunk_chars, options.chunk_overlap, document.markdown)
        ]  # fmt: skip
    return [Seed(id=seed_id(text), source=document.source, chunk=n, text=text, lineage=lineage)
            for n, (text, lineage) in enumerate(chunks)]  # fmt: skip


def source_name(source: str, seeds: str) -> str:
    """A seed's source as its records name it: from the seeds' own name down, `docs/a.md` for a
    file of `--seeds /home/me/corpus/docs`, `a.md` for `--seeds /home/me/a.md`. Where the user
    keeps the corpus is not the dataset's business, and with it the same seeds in another folder
    gave other records. A run's seeds are an absolute path; a relative one (a run.json from before
    they were) names its sources as it did then, and a Hub dataset's are its name."""
    if is_hub(seeds) or not Path(seeds).is_absolute():
        return source
    root = Path(os.path.normpath(seeds))  # `/corpus/docs/..` is named `corpus`, not `..`
    try:
        return str(Path(os.path.normpath(source)).relative_to(root.parent))
    except ValueError:
        return source


def _warn_skipped(skipped: Counter[str]) -> None:
    for source, count in list(skipped.items())[:5]:
        logger.warning("{}: skipped {} with no text", source, "a document" if count == 1 else f"{count} documents")
    if len(skipped) > 5:
        logger.warning("... and documents with no text in {} more sources", len(skipped) - 5)


def _read(source: str | Path, kind: SeedKind, options: SeedOptions, skipped: Counter[str]) -> list[Seed]:
    seen: set[str] = set()
    seeds: list[Seed] = []
    for document in documents(source, kind, options):
        if not document.text.strip():
            skipped[document.source] += 1
            continue
        for seed in cut(document, kind, options):
            if seed.id not in seen:
                seen.add(seed.id)
                seeds.append(seed)
            if options.max_seeds is not None and len(seeds) >= options.max_seeds:
                return seeds
    return seeds


def read_seeds(source: str | Path, kind: SeedKind = "text", options: SeedOptions | None = None) -> SeedRead:
    """All seeds of a source, duplicates (same content hash) dropped, at most options.max_seeds.
    Skipped documents are warned about only when seeds remain: when the read fails, its error is
    the only line the user sees, and says why."""
    skipped: Counter[str] = Counter()
    seeds = _read(source, kind, options or SeedOptions(), skipped)
    if not seeds:
        empty = sum(skipped.values())
        why = ": its one document is empty" if empty == 1 else f": all its {empty} documents are empty" if empty else ""
        raise SeedError(f"{source}: no non-empty seed {'code' if kind == 'code' else 'text'} found{why}")
    _warn_skipped(skipped)
    return SeedRead(seeds=seeds, skipped=sum(skipped.values()))


def load_seeds(path: str | Path, max_chars: int = 3000, max_seeds: int | None = None, **fields: str | int | None) -> list[Seed]:
    """Document seeds (the `text` kind of a taxonomy's `seeds:`)."""
    return read_seeds(path, "text", SeedOptions(chunk_chars=max_chars, max_seeds=max_seeds, **fields)).seeds


def load_code_seeds(path: str | Path, max_chars: int = 3000, max_seeds: int | None = None, **fields: str | int | None) -> list[Seed]:
    """Code seeds (the `code` kind): files cut at top-level definitions, or code rows."""
    return read_seeds(path, "code", SeedOptions(chunk_chars=max_chars, max_seeds=max_seeds, **fields)).seeds
