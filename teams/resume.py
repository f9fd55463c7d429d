"""Bringing an interrupted run folder back to a state a run can carry on from.

A seed's line in seeds.jsonl is written after its records, so it is the commit mark: a seed
with no line was not finished and is done again. Killed at any moment, the folder can hold
a torn last line (in either file) and records of an unfinished seed; both are removed here,
with an atomic rewrite, so the resumed run ends with every seed recorded exactly once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from teams.run_folder import RunFolder, RunTotals, SeedStatus


class Repair(BaseModel):
    """What the repair found and kept."""

    seeds: list[SeedStatus]
    torn_lines: int = 0
    orphan_records: int = 0
    duplicates: int = 0


def _whole_lines(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """(line, parsed) for every complete JSON line, and how many were torn or unreadable."""
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
            try:
                rows.append((line, json.loads(line)))
            except json.JSONDecodeError:
                torn += 1
    return rows, torn


def _rewrite(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def repair(folder: RunFolder) -> Repair:
    """Keep the seeds that were committed, once each, and exactly their records."""
    seed_rows, torn_seeds = _whole_lines(folder.seeds_path)
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

    record_rows, torn_records = _whole_lines(folder.records_path)
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

    if torn_seeds or duplicates:
        _rewrite(folder.seeds_path, [line for line, _ in kept_seeds])
    if torn_records or orphans or duplicates:
        _rewrite(folder.records_path, kept_records)
    return Repair(
        seeds=[status for _, status in kept_seeds],
        torn_lines=torn_seeds + torn_records,
        orphan_records=orphans,
        duplicates=duplicates,
    )


def totals_from(seeds: list[SeedStatus], previous: RunTotals) -> RunTotals:
    """The run's totals as the committed seeds say, with the model usage carried over."""
    totals = previous.model_copy(deep=True)
    totals.seeds_done = sum(1 for s in seeds if s.status == "done")
    totals.seeds_failed = sum(1 for s in seeds if s.status == "failed")
    totals.records = sum(s.records for s in seeds)
    totals.tokens = sum(s.tokens for s in seeds)
    totals.step_failures = sum(len(s.failures) for s in seeds)
    totals.dropped = {}
    for seed in seeds:  # run.json may lag behind the last seeds committed before a kill
        for why, count in seed.dropped.items():
            totals.dropped[why] = totals.dropped.get(why, 0) + count
    return totals
