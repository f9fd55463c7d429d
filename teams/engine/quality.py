"""What keeps a run's dataset clean after the judge: exact and near duplicates, and records
whose prompt overlaps a benchmark (decontamination).

All of it happens when a seed's records are committed, which the run driver does one seed at a
time, so concurrent seeds (or Ray workers) never race on it. Its state is derived from
`records.jsonl` and held in memory only (nothing of it is written, so nothing a process held can
leak into the run folder): reopening a run (resume) rebuilds the exact-duplicate hashes and the
near-duplicate index from the records actually kept, so nothing is kept twice and nothing is lost.
Every dropped record says why in `meta.dropped`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from teams.engine.near_duplicates import Entry, NearDuplicateIndex
from teams.flows.types import Record
from teams.runfolder.folder import RunFolder, SeedOutcome
from teams.runfolder.records import normalise, prompt_text


class QualityError(ValueError):
    """A benchmark file that cannot be used for decontamination: one line for the user."""


class QualitySettings(BaseModel):
    """`quality:` in a config file; --no-dedup, --near-duplicate-threshold, --decontaminate, --ngram."""

    model_config = ConfigDict(extra="forbid")

    dedup: bool = True
    near_duplicate_threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        description="cosine similarity of instructions (and of their contexts) above which a record is a near duplicate; 1 = exact duplicates only",
    )
    decontaminate: list[Path] = Field(
        default_factory=list, description="benchmark files: JSONL (every text field) or plain text"
    )
    ngram: int = Field(13, ge=3, le=100, description="words a shared n-gram must have to count as contamination")


# --- the texts compared ----------------------------------------------------------------------


def exact_key(record: dict[str, Any]) -> str:
    return hashlib.sha256(normalise(prompt_text(record)).encode()).hexdigest()


# --- decontamination -------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def benchmark_texts(path: Path) -> Iterator[str]:
    """Every text of a benchmark file: each string field of each JSONL object, or the whole of a
    plain-text file."""
    if not path.is_file():
        raise QualityError(f"{path}: benchmark file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QualityError(f"{path}: not valid UTF-8 text") from None
    if "\x00" in text:
        raise QualityError(f"{path}: a binary file, not a benchmark")
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        yield text
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield from _strings(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QualityError(f"{path}: line {number}: not JSON ({exc.msg})") from None


def ngrams(text: str, n: int) -> set[str]:
    words = normalise(text).split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


class Decontaminator:
    """The n-grams of every benchmark text; a record whose prompt shares one is contaminated.
    Benchmark texts shorter than n words are too short to tell and are not used."""

    def __init__(self, paths: Iterable[Path], n: int):
        self.n = n
        self.paths = [Path(p) for p in paths]
        self.grams: set[int] = set()
        for path in self.paths:
            before = len(self.grams)
            for text in benchmark_texts(path):
                self.grams.update(hash(g) for g in ngrams(text, n))
            if len(self.grams) == before:
                raise QualityError(f"{path}: no text of {n} words or more to decontaminate against")

    def match(self, record: dict[str, Any]) -> str | None:
        """The first shared n-gram, or None."""
        for gram in ngrams(prompt_text(record), self.n):
            if hash(gram) in self.grams:
                return gram
        return None


# --- the gate --------------------------------------------------------------------------------


class QualityGate:
    """Checks every record of a seed against everything kept so far, at commit time."""

    def __init__(self, settings: QualitySettings):
        self.settings = settings
        self.decontaminator = Decontaminator(settings.decontaminate, settings.ngram) if settings.decontaminate else None
        if settings.dedup and settings.near_duplicate_threshold < 1:
            from retrieval.embedding import load_model

            # now, before the run's event loop starts: loading MiniLM takes seconds (minutes on a
            # busy machine), and asyncio only acts on Ctrl-C once the loop gets control back
            load_model()
        self.seen: dict[str, str] = {}
        self.index: NearDuplicateIndex | None = None

    def open(self, folder: RunFolder) -> QualityGate:
        """Attach to a run folder, rebuilding the state from the records it already keeps."""
        completed = {s["id"] for s in folder.seeds()}
        kept = [r for r in folder.records() if r.get("meta", {}).get("seed_id") in completed]
        if self.settings.dedup:
            self.seen = {exact_key(r): r["id"] for r in kept}
            if self.settings.near_duplicate_threshold < 1:
                self.index = NearDuplicateIndex(self.settings.near_duplicate_threshold)
                for record in kept:  # kept records are not near duplicates of each other: no check
                    self.index.add(self.index.probe(record))
        return self

    def embed_ahead(self, outcome: SeedOutcome) -> dict[str, Any]:
        """Vectors of the outcome's instructions, and of the passages its own records have the gate
        compare, for `admit`, made in any thread before the seed's turn
        (`NearDuplicateIndex.embed_ahead`); none without near-duplicate search."""
        if self.index is None:
            return {}
        return self.index.embed_ahead([r.model_dump(mode="json") for r in outcome.records])

    def review(
        self, records: list[dict[str, Any]], ahead: dict[str, Any] | None = None
    ) -> list[tuple[str, str] | None]:
        """For each record, in order, (why, detail) if it is dropped, else None; the kept ones
        join the state, so a later record of the same batch is compared with them too. `ahead`:
        vectors from `embed_ahead`, used instead of embedding those texts here."""
        verdicts: list[tuple[str, str] | None] = []
        entries: list[Entry | None] = [None] * len(records)
        if self.index is not None:
            self.index.remember(ahead or {})
            entries = [self.index.probe(r) for r in records]
            self.index.prefetch([e for e in entries if e is not None])
        for record, entry in zip(records, entries, strict=True):
            verdict: tuple[str, str] | None = None
            gram = self.decontaminator.match(record) if self.decontaminator else None
            key = exact_key(record)
            if gram is not None:
                verdict = ("contaminated", f"shares the {self.settings.ngram}-gram '{gram}' with a benchmark")
            elif self.settings.dedup and key in self.seen:
                verdict = ("duplicate", f"same prompt as {self.seen[key]}")
            elif self.index is not None and entry is not None:
                twin = self.index.twin(entry)
                if twin is not None:
                    verdict = ("near_duplicate", f"similarity {twin[1]} to {twin[0]}")
            if verdict is None:
                if self.settings.dedup:
                    self.seen[key] = record["id"]
                if self.index is not None and entry is not None:
                    self.index.add(entry)
            verdicts.append(verdict)
        return verdicts

    def admit(self, outcome: SeedOutcome, ahead: dict[str, Any] | None = None) -> SeedOutcome:
        """The outcome with its duplicates and contaminated records moved to `dropped` (the run
        folder writes them to dropped.jsonl, the judge's too), counted in its seed status."""
        verdicts = self.review([r.model_dump(mode="json") for r in outcome.records], ahead)
        kept: list[Record] = []
        dropped = list(outcome.dropped)
        counts = dict(outcome.status.dropped)
        for record, verdict in zip(outcome.records, verdicts, strict=True):
            if verdict is None:
                kept.append(record)
                continue
            record.meta["dropped"] = {"by": verdict[0], "reason": verdict[1]}
            dropped.append(record)
            counts[verdict[0]] = counts.get(verdict[0], 0) + 1
        status = outcome.status.model_copy(update={"records": len(kept), "dropped": counts})
        return outcome.model_copy(update={"records": kept, "dropped": dropped, "status": status})
