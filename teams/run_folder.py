"""A run folder: `run.json`, `records.jsonl`, `seeds.jsonl`, `transcripts/`, `run.log`.

Writes are crash-safe: JSONL lines are written whole and flushed one at a time; whole files
are written to a temporary name and renamed. A seed's line in seeds.jsonl is written last, so
it marks the seed's records and transcript as complete.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from teams.schemas import Record, SeedTranscript

RunStatus = Literal["running", "completed", "completed_with_failures", "failed", "stopped", "budget_reached"]


class RunFolderError(ValueError):
    """A run that does not exist or cannot be read."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SeedStatus(BaseModel):
    """One line of seeds.jsonl."""

    id: str
    source: str
    skill: str | None = None
    chunk: int = 0
    status: Literal["done", "failed"]
    records: int = 0
    tokens: int = 0
    reason: str | None = None
    failures: list[dict[str, str]] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict, description="records dropped, by why (judge, duplicate...)")


class RunTotals(BaseModel):
    seeds: int = 0
    seeds_done: int = 0
    seeds_failed: int = 0
    records: int = 0
    step_failures: int = 0
    tokens: int = 0
    dropped: dict[str, int] = Field(default_factory=dict, description="records dropped, by why (judge, duplicate...)")
    # every model call, by role and model (agents.usage): calls sent, calls answered by the cache, cost
    calls: int = 0
    cached_calls: int = 0
    model_tokens: int = 0
    cost_usd: float | None = Field(None, description="None: no price for the run's models (config `prices:`)")
    usage: list[dict[str, Any]] = Field(default_factory=list)


class RunInfo(BaseModel):
    """run.json: what was asked for (no secrets), what it ran on, how it went."""

    run_id: str
    skill: str
    skills: dict[str, float] = Field(default_factory=dict, description="a mixed run: skill -> weight")
    status: RunStatus = "running"
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None
    command: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    totals: RunTotals = Field(default_factory=RunTotals)
    stop_reason: str | None = None
    resumed_at: list[str] = Field(default_factory=list)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class RunFolder:
    def __init__(self, path: Path):
        self.path = path

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def records_path(self) -> Path:
        return self.path / "records.jsonl"

    @property
    def seeds_path(self) -> Path:
        return self.path / "seeds.jsonl"

    @property
    def dropped_path(self) -> Path:
        return self.path / "dropped.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "run.log"

    @property
    def cache_path(self) -> Path:
        return self.path / "cache"

    def transcript_path(self, seed_id: str) -> Path:
        return self.path / "transcripts" / f"{seed_id}.json"

    # --- writing ---

    @staticmethod
    def ensure_new(out: Path, run_id: str) -> None:
        path = out / run_id
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunFolderError(f"{path}: a run with id '{run_id}' already exists; choose another --run-id")

    @classmethod
    def create(cls, out: Path, run_id: str) -> RunFolder:
        cls.ensure_new(out, run_id)
        (out / run_id / "transcripts").mkdir(parents=True, exist_ok=True)
        (out / run_id / "records.jsonl").touch()  # the dataset exists, if empty, even when every record was dropped
        return cls(out / run_id)

    def write_info(self, info: RunInfo) -> None:
        _write_atomic(self.run_json, info.model_dump_json(indent=2))

    def _append(self, path: Path, line: str) -> None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()

    def append_record(self, record: Record) -> None:
        self._append(self.records_path, record.model_dump_json(exclude_none=True))

    def append_seed(self, status: SeedStatus) -> None:
        self._append(self.seeds_path, status.model_dump_json())

    def write_transcript(self, transcript: SeedTranscript) -> str:
        path = self.transcript_path(transcript.seed_id)
        _write_atomic(path, transcript.model_dump_json(indent=2))
        return str(path.relative_to(self.path))

    # --- reading ---

    @classmethod
    def open(cls, out: Path, run_id: str) -> RunFolder:
        folder = cls(out / run_id)
        if not folder.run_json.is_file():
            raise RunFolderError(f"no run '{run_id}' under {out}")
        return folder

    def info(self) -> RunInfo:
        try:
            return RunInfo.model_validate_json(self.run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{self.run_json}: unreadable: {exc}") from None

    def _lines(self, path: Path) -> list[dict[str, Any]]:
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line torn by a crash mid-write is not a record
        return rows

    def records(self) -> list[dict[str, Any]]:
        return self._lines(self.records_path)

    def seeds(self) -> list[dict[str, Any]]:
        return self._lines(self.seeds_path)

    def dropped(self) -> list[dict[str, Any]]:
        """The records the judge, deduplication or decontamination left out, with why."""
        return self._lines(self.dropped_path)

    def transcript(self, seed_id: str) -> SeedTranscript:
        matches = sorted((self.path / "transcripts").glob(f"{seed_id}*.json"))
        if not matches:
            raise RunFolderError(f"run '{self.path.name}' has no transcript for seed '{seed_id}'")
        if len(matches) > 1:
            raise RunFolderError(f"seed id '{seed_id}' is ambiguous in run '{self.path.name}'")
        return SeedTranscript.model_validate_json(matches[0].read_text(encoding="utf-8"))


def list_runs(out: Path) -> list[RunFolder]:
    if not out.is_dir():
        return []
    folders = [RunFolder(p) for p in out.iterdir() if (p / "run.json").is_file()]
    return sorted(folders, key=lambda f: f.info().started_at)
