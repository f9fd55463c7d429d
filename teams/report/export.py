"""`agentinstruct export`: a run's records in the formats trainers read, with a dataset card
(teams.report.card) beside them.

Every row keeps `messages` (real lists, as chat templates and TRL expect), `tools` where a
record has them (tool use), a `skill` and `subcategory` label, the record `id` and its `meta`.
In Arrow formats (parquet, hf) `tools` and `meta` are `datasets.Json` values (stored as JSON
text, read back as the objects they were), because tool schemas differ from row to row and
Arrow would otherwise merge them into one struct padded with nulls; so are the messages of rows
with tool calls (`_features`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from teams.runfolder.folder import RunFolder

Format = Literal["jsonl", "parquet", "sharegpt", "hf"]
EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "sharegpt": ".jsonl"}
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


class ExportError(ValueError):
    """A run with nothing to export, or an output that cannot be written: one line for the user."""


def row(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a trainer reads it; no empty system message."""
    messages = [m for m in record["messages"] if not (m["role"] == "system" and not m.get("content"))]
    out: dict[str, Any] = {
        "id": record["id"],
        "skill": record["skill"],
        "subcategory": record["subcategory"],
        "messages": messages,
    }
    if record.get("tools"):
        out["tools"] = record["tools"]
    out["meta"] = record.get("meta", {})
    return out


def sharegpt_row(record: dict[str, Any]) -> dict[str, Any]:
    """ShareGPT (as LLaMA-Factory and Axolotl read it): `conversations` of {from, value}, the system
    prompt apart, tools as a JSON string; `messages` kept as well."""
    base = row(record)
    conversations = []
    system = ""
    for message in base["messages"]:
        if message["role"] == "system":
            system = message["content"]
            continue
        if message.get("tool_calls"):
            calls = [c.get("function", c) for c in message["tool_calls"]]
            conversations.append({"from": "function_call", "value": json.dumps(calls if len(calls) > 1 else calls[0])})
            continue
        conversations.append({"from": SHAREGPT_ROLES[message["role"]], "value": message.get("content") or ""})
    out = {"id": base["id"], "skill": base["skill"], "subcategory": base["subcategory"], "conversations": conversations}
    if system:
        out["system"] = system
    if base.get("tools"):
        out["tools"] = json.dumps(base["tools"], ensure_ascii=False)
    return {**out, "messages": base["messages"], "meta": base["meta"]}


def _features(rows: list[dict[str, Any]]) -> Any:
    """Arrow types: plain {role, content} structs when no message has more (tool calls), else JSON."""
    from datasets import Features, Json, List, Value

    plain = all(set(m) <= {"role", "content"} for r in rows for m in r["messages"])
    message: Any = {"role": Value("string"), "content": Value("string")} if plain else Json()
    features: dict[str, Any] = {
        "id": Value("string"),
        "skill": Value("string"),
        "subcategory": Value("string"),
        "messages": List(message),
    }
    if any("tools" in r for r in rows):
        features["tools"] = List(Json())
    features["meta"] = Json()
    return Features(features)


def _dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    features = _features(rows)
    if "tools" in features:
        rows = [{**r, "tools": r.get("tools") or []} for r in rows]
    columns = {name: [r[name] for r in rows] for name in features}
    return Dataset.from_dict(columns, features=features)


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for item in rows:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    _dataset(rows).to_parquet(str(path))


WRITERS: dict[str, Callable[[list[dict[str, Any]], Path], None]] = {
    "jsonl": _write_jsonl,
    "sharegpt": _write_jsonl,
    "parquet": _write_parquet,
}
SHAPERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "jsonl": row,
    "parquet": row,
    "hf": row,
    "sharegpt": sharegpt_row,
}


def default_out(folder: RunFolder, fmt: Format, split_by: str | None) -> Path:
    if fmt == "hf" or split_by:
        return folder.export_path / fmt
    name = f"{folder.path.name}.sharegpt" if fmt == "sharegpt" else folder.path.name  # not the jsonl export's name
    return folder.export_path / f"{name}{EXTENSIONS[fmt]}"


def data_files(fmt: Format, target: Path, splits: list[str], split_by: str | None) -> tuple[Path, dict[str, str]]:
    """Where an export's card goes (a folder), and each split's files relative to it."""
    if fmt == "hf":
        return target, {split: f"{split}/*.arrow" for split in splits}
    if split_by:
        return target, {split: f"{split}{EXTENSIONS[fmt]}" for split in splits}
    return target.parent, {"train": target.name}


def write_card(
    folder: RunFolder,
    records: list[dict[str, Any]],
    fmt: Format,
    target: Path,
    counts: dict[str, int],
    split_by: str | None,
    license: str | None,
    language: list[str] | None,
    push_to_hub: str | None,
) -> Path:
    """The export's dataset card beside its data (and, pushed, on the Hub with the Hub's layout)."""
    from teams.report.card import card_path, dataset_card
    from teams.report.stats import run_stats

    stats = run_stats(folder, with_diversity=False, records=records)
    beside, files = data_files(fmt, target, list(counts), split_by)
    card = dataset_card(folder, stats, fmt, files, counts, target, license=license, language=language)
    path = card_path(beside)
    card.save(path)
    if push_to_hub:
        hub_files = {split: f"data/{split}-*" for split in counts}  # where DatasetDict.push_to_hub puts them
        hub_card = dataset_card(folder, stats, fmt, hub_files, counts, target, license=license, language=language, repo=push_to_hub)
        hub_card.push_to_hub(push_to_hub)
    return path


def export_run(
    folder: RunFolder,
    fmt: Format,
    out: Path | None = None,
    split_by: str | None = None,
    push_to_hub: str | None = None,
    license: str | None = None,
    language: list[str] | None = None,
) -> tuple[Path, dict[str, int], Path]:
    """Write the run's records in `fmt` and their dataset card; return where, how many rows per
    split ("train" without --split-by), and where the card is. With split_by, one file (or
    DatasetDict split) per value of that field."""
    records = folder.records()
    if not records:
        raise ExportError(f"run '{folder.path.name}' has no records to export")
    if push_to_hub and fmt != "hf":
        raise ExportError("--push-to-hub needs --format hf")
    if split_by is not None and split_by not in ("skill", "subcategory"):
        raise ExportError(f"--split-by takes 'skill' or 'subcategory', not '{split_by}'")
    from teams.report.card import card_license

    card_license(license, folder.info().config)  # an unknown id stops the export before it writes or pushes
    import datasets

    datasets.disable_progress_bars()  # one summary line is what the command prints
    shaped = [SHAPERS[fmt](r) for r in records]
    splits: dict[str, list[dict[str, Any]]] = {}
    for item in shaped:
        splits.setdefault(str(item[split_by]) if split_by else "train", []).append(item)
    target = out or default_out(folder, fmt, split_by)
    if out is not None and out.is_dir() and fmt != "hf" and not split_by:  # a folder to write the file into
        target = out / default_out(folder, fmt, split_by).name
    if fmt == "hf":
        from datasets import DatasetDict

        dataset = DatasetDict({name: _dataset(part) for name, part in splits.items()})
        dataset.save_to_disk(str(target))
        if push_to_hub:
            dataset.push_to_hub(push_to_hub)  # the card follows it, in write_card
    elif split_by:
        target.mkdir(parents=True, exist_ok=True)
        for name, part in splits.items():
            WRITERS[fmt](part, target / f"{name}{EXTENSIONS[fmt]}")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        WRITERS[fmt](splits["train"], target)
    counts = {name: len(part) for name, part in splits.items()}
    card = write_card(folder, records, fmt, target, counts, split_by, license, language, push_to_hub)
    return target, counts, card
