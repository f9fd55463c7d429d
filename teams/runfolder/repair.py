"""Bringing an interrupted run folder back to a state a run can carry on from.

A seed's line in seeds.jsonl is written after its records, so it is the commit mark: a seed
with no line was not finished and is done again. Killed at any moment, the folder can hold
a torn last line (in any JSONL file) and records (kept or dropped) of an unfinished seed; they
are removed here, with an atomic rewrite, so the resumed run ends with every seed recorded
exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from teams.flows.types import Record
from teams.runfolder.atomic import rewrite_lines
from teams.runfolder.folder import RunFolder, parse_line
from teams.runfolder.info import SeedStatus


class Repair(BaseModel):
    """What the repair found and kept."""

    seeds: list[SeedStatus]
    torn_lines: int = 0
    orphan_records: int = 0
    duplicates: int = 0
    retried: list[str] = []  # failed seeds whose lines were removed, to be run again (--retry-failed)


def _whole_lines(path: Path, shape: type[BaseModel]) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """(line, parsed) for every complete line that is a `shape`, and how many were torn or unreadable."""
    if not path.is_file():
        return [], 0
    rows, torn = [], 0
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):  # cut by a crash mid-write
                torn += 1
                continue
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if not line.strip():
                continue
            row = parse_line(line, shape)
            if row is None:  # not JSON, or not a `shape`: no seed or record of ours
                torn += 1
            else:
                rows.append((line, row))
    return rows, torn


def repair(folder: RunFolder, retry_failed: bool = False) -> Repair:
    """Keep the seeds that were committed, once each, and exactly their records. With
    `retry_failed`, the lines of failed seeds go too (a failed seed has no records), so they run again."""
    seed_rows, torn_seeds = _whole_lines(folder.seeds_path, SeedStatus)
    seen: set[str] = set()
    kept_seeds: list[tuple[str, SeedStatus]] = []
    duplicates = 0
    for line, row in seed_rows:
        status = SeedStatus.model_validate(row)
        if status.id in seen:
            duplicates += 1
            continue
        seen.add(status.id)
        kept_seeds.append((line, status))
    retried = [status.id for _, status in kept_seeds if retry_failed and status.status == "failed"]
    if retried:
        kept_seeds = [(line, status) for line, status in kept_seeds if status.status != "failed"]
        seen -= set(retried)

    record_rows, torn_records = _whole_lines(folder.records_path, Record)
    kept_records: list[str] = []
    record_ids: set[str] = set()
    orphans = 0
    for line, row in record_rows:
        seed_id = (row.get("meta") or {}).get("seed_id")
        if seed_id not in seen:
            orphans += 1
            continue
        record_id = str(row.get("id"))
        if record_id in record_ids:
            duplicates += 1
            continue
        record_ids.add(record_id)
        kept_records.append(line)

    if torn_seeds or duplicates or retried:
        rewrite_lines(folder.seeds_path, [line for line, _ in kept_seeds])
    if torn_records or orphans or duplicates:
        rewrite_lines(folder.records_path, kept_records)
    dropped_rows, torn_dropped = _whole_lines(folder.dropped_path, Record)
    kept_dropped = [line for line, row in dropped_rows if (row.get("meta") or {}).get("seed_id") in seen]
    if torn_dropped or len(kept_dropped) != len(dropped_rows):  # a resume judges and filters those seeds again
        rewrite_lines(folder.dropped_path, kept_dropped)
    return Repair(
        seeds=[status for _, status in kept_seeds],
        torn_lines=torn_seeds + torn_records,
        orphan_records=orphans,
        duplicates=duplicates,
        retried=retried,
    )
