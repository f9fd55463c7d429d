"""A run folder: the paths of its entries, reading them, and the writes a run makes, all of them
crash-safe: JSONL lines are written whole and flushed one at a time, whole files atomically.
A seed's line in seeds.jsonl is written last, so it marks the seed's records, dropped records
and transcript as complete (teams.runfolder.repair relies on that)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import BaseModel, Field, ValidationError

from retrieval.seeds import Seed
from teams.flows.types import Record, SeedTranscript
from teams.runfolder.atomic import write_atomic
from teams.runfolder.info import RunInfo, SeedStatus

# What a run folder holds (runs/README.md and the README describe each).
RUN_JSON = "run.json"
RECORDS = "records.jsonl"
SEEDS = "seeds.jsonl"
DROPPED = "dropped.jsonl"
TRANSCRIPTS = "transcripts"
LOG = "run.log"
CACHE = "cache"
EXPORT = "export"
VIEW = "view.html"


RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class RunFolderError(ValueError):
    """A run that does not exist or cannot be read."""


def check_run_id(run_id: str) -> None:
    """A run id is a plain folder name: no path separators, no '..', nothing hidden."""
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise RunFolderError(
            f"run id {run_id!r} is not a plain name: use letters, digits, '.', '_' and '-' (no '/' or '..')"
        )


class SeedOutcome(BaseModel):
    """What one seed commits: its records, its line, its transcript, and the records not kept."""

    seed: Seed
    records: list[Record]
    status: SeedStatus
    transcript: SeedTranscript
    dropped: list[Record] = Field(default_factory=list, description="candidates not kept; meta.dropped says why")
    endpoint_down: str | None = Field(None, description="the run gave up on an endpoint meanwhile: not committed")


def parse_line(line: str, shape: type[BaseModel]) -> dict[str, Any] | None:
    """One line of a run folder's JSONL file as a dict, if it is a `shape` (a record, a seed's
    line); None if it is torn, not JSON, or JSON of another shape (`[1]`, `{}`), which the
    commands reading the folder would fail on."""
    try:
        row = json.loads(line)
        shape.model_validate(row)
    except (json.JSONDecodeError, ValidationError):
        return None
    return row if isinstance(row, dict) else None


class RunFolder:
    def __init__(self, path: Path):
        self.path = path
        self._warned: set[Path] = set()  # files whose unreadable lines were told once already

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    @property
    def seeds_path(self) -> Path:
        return self.path / SEEDS

    @property
    def dropped_path(self) -> Path:
        return self.path / DROPPED

    @property
    def log_path(self) -> Path:
        return self.path / LOG

    @property
    def cache_path(self) -> Path:
        return self.path / CACHE

    @property
    def export_path(self) -> Path:
        return self.path / EXPORT

    @property
    def view_path(self) -> Path:
        return self.path / VIEW

    def transcript_path(self, seed_id: str) -> Path:
        return self.path / TRANSCRIPTS / f"{seed_id}.json"

    # --- writing ---

    @staticmethod
    def ensure_new(out: Path, run_id: str) -> None:
        check_run_id(run_id)
        path = out / run_id
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunFolderError(f"{path}: a run with id '{run_id}' already exists; choose another --run-id")

    @classmethod
    def create(cls, out: Path, run_id: str) -> RunFolder:
        cls.ensure_new(out, run_id)
        (out / run_id / TRANSCRIPTS).mkdir(parents=True, exist_ok=True)
        (out / run_id / RECORDS).touch()  # the dataset exists, if empty, even when every record was dropped
        return cls(out / run_id)

    def write_info(self, info: RunInfo) -> None:
        write_atomic(self.run_json, info.model_dump_json(indent=2))

    def _append(self, path: Path, lines: list[str]) -> None:
        if not lines:
            return
        with path.open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
            handle.flush()

    def append_record(self, record: Record) -> None:
        self._append(self.records_path, [record.model_dump_json(exclude_none=True)])

    def append_dropped(self, records: list[Record]) -> None:
        self._append(self.dropped_path, [r.model_dump_json(exclude_none=True) for r in records])

    def append_seed(self, status: SeedStatus) -> None:
        self._append(self.seeds_path, [status.model_dump_json()])

    def commit(self, outcome: SeedOutcome) -> None:
        """Write one seed: its transcript, then its records and dropped records (each pointing at the
        transcript), then its line in seeds.jsonl, last, which marks it complete."""
        pointer = self.write_transcript(outcome.transcript)
        for record in (*outcome.records, *outcome.dropped):
            record.meta["transcript"] = pointer
        for record in outcome.records:
            self.append_record(record)
        self.append_dropped(outcome.dropped)
        self.append_seed(outcome.status)

    def write_transcript(self, transcript: SeedTranscript) -> str:
        """The transcript's file, and its path within the run folder (what a record's meta points at)."""
        path = self.transcript_path(transcript.seed_id)
        write_atomic(path, transcript.model_dump_json(indent=2))
        return path.relative_to(self.path).as_posix()

    # --- reading ---

    @classmethod
    def open(cls, out: Path, run_id: str) -> RunFolder:
        check_run_id(run_id)
        folder = cls(out / run_id)
        if not folder.run_json.is_file():
            if folder.path.is_dir():
                raise RunFolderError(f"{folder.path} has no {RUN_JSON}: not a run folder, or its {RUN_JSON} was removed")
            raise RunFolderError(f"no run '{run_id}' under {out}")
        return folder

    def info(self) -> RunInfo:
        try:
            return RunInfo.model_validate_json(self.run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{self.run_json}: unreadable: {exc}") from None

    def _lines(self, path: Path, shape: type[BaseModel]) -> list[dict[str, Any]]:
        """The lines of one of the folder's files that are a `shape`. A line that is not one (torn
        by a crash mid-write, perhaps in the middle of a character; edited by hand) is skipped,
        and said so once."""
        if not path.is_file():
            return []
        rows, unreadable = [], 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                row = parse_line(line, shape)
                if row is None:
                    unreadable += 1
                else:
                    rows.append(row)
        if unreadable and path not in self._warned:
            self._warned.add(path)
            logger.warning("{}", self._unreadable_warning(path, unreadable))
        return rows

    def _unreadable_warning(self, path: Path, count: int) -> str:
        """What a resume does with such lines (teams.runfolder.repair), and the command to run it."""
        out = "" if self.path.parent == Path("runs") else f" --out {self.path.parent}"
        lines, them = ("line", "it") if count == 1 else ("lines", "them")
        return (
            f"{path}: {count} unreadable {lines} skipped (torn by a crash?); `agentinstruct run --resume "
            f"{self.path.name}{out}` removes {them} and runs again the seeds left unfinished"
        )

    def records(self) -> list[dict[str, Any]]:
        return self._lines(self.records_path, Record)

    def seeds(self) -> list[dict[str, Any]]:
        return self._lines(self.seeds_path, SeedStatus)

    def dropped(self) -> list[dict[str, Any]]:
        """The records the judge, deduplication or decontamination left out, with why."""
        return self._lines(self.dropped_path, Record)

    def transcript(self, seed_id: str) -> SeedTranscript:
        matches = sorted((self.path / TRANSCRIPTS).glob(f"{seed_id}*.json"))
        if not matches:
            raise RunFolderError(f"run '{self.path.name}' has no transcript for seed '{seed_id}'")
        if len(matches) > 1:
            raise RunFolderError(f"seed id '{seed_id}' is ambiguous in run '{self.path.name}'")
        return SeedTranscript.model_validate_json(matches[0].read_text(encoding="utf-8"))


def list_runs(out: Path) -> list[RunFolder]:
    if not out.is_dir():
        return []
    folders = [RunFolder(p) for p in out.iterdir() if (p / RUN_JSON).is_file()]
    return sorted(folders, key=lambda f: f.info().started_at)
