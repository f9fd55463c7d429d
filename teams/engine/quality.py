"""What keeps a run's dataset clean after the judge: exact and near duplicates, and records
whose prompt overlaps a benchmark (decontamination).

All of it happens when a seed's records are committed, which the run driver does one seed at a
time, so concurrent seeds (or Ray workers) never race on it. Its state lives in the run folder
(`dedup/`) and is derived from `records.jsonl`: reopening a run (resume) rebuilds the
exact-duplicate hashes and reconciles the Chroma collection with the records actually kept, so
nothing is kept twice and nothing is lost. Every dropped record says why in `meta.dropped`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from teams.flows.types import Record
from teams.runfolder.folder import RunFolder, SeedOutcome
from teams.runfolder.records import chain_of, context_text, instruction_text, prompt_text

NEIGHBOURS = 10  # nearest earlier instructions compared with each new one
_WORD = re.compile(r"\w+")


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


def normalise(text: str) -> str:
    """Case, accents' composed forms, punctuation and spacing do not make two texts different."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


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


# --- near duplicates -------------------------------------------------------------------------


class NearDuplicateIndex:
    """The kept records' instruction and context embeddings, in two Chroma collections inside the
    run folder (embedded with the bundled MiniLM, cosine space)."""

    def __init__(self, path: Path, threshold: float):
        import chromadb
        from chromadb.config import Settings

        from retrieval.embedding import BundledEmbeddingFunction

        self.threshold = threshold
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        space: Any = {"hnsw": {"space": "cosine"}}
        embedder: Any = BundledEmbeddingFunction()  # we pass our own vectors; this keeps Chroma's downloader away
        self.instructions = client.get_or_create_collection(
            "instructions", configuration=space, embedding_function=embedder
        )
        self.contexts = client.get_or_create_collection("contexts", configuration=space, embedding_function=embedder)
        self.size = self.instructions.count()  # kept up to date here: no count query per record

    def reconcile(self, kept: list[dict[str, Any]]) -> None:
        """Make the collections hold exactly the kept records (a crash between an add and the
        record's line, or records dropped by a resume, leave them out of step)."""
        wanted = {r["id"]: r for r in kept}
        present = set(self.instructions.get(include=[])["ids"])
        stale = sorted(present - set(wanted))
        if stale:
            self.instructions.delete(ids=stale)
            self.contexts.delete(ids=stale)
            self.size -= len(stale)
        missing = [wanted[i] for i in wanted if i not in present]
        if missing:
            self.add(missing, *self.embed(missing))

    @staticmethod
    def embed(records: list[dict[str, Any]]) -> tuple[list[list[float]], list[list[float]]]:
        from retrieval.embedding import embed_texts

        vectors = embed_texts([instruction_text(r) for r in records] + [context_text(r) or "-" for r in records])
        return vectors[: len(records)], vectors[len(records) :]

    def add(self, records: list[dict[str, Any]], instructions: list[list[float]], contexts: list[list[float]]) -> None:
        for start in range(0, len(records), 1000):
            part = slice(start, start + 1000)
            ids = [r["id"] for r in records[part]]
            metadatas: Any = [{"chain": chain_of(r), "has_context": bool(context_text(r))} for r in records[part]]
            self.instructions.add(ids=ids, embeddings=instructions[part], metadatas=metadatas)  # type: ignore[arg-type]
            self.contexts.add(ids=ids, embeddings=contexts[part])  # type: ignore[arg-type]
            self.size += len(ids)

    def twin(self, record: dict[str, Any], instruction: list[float], context: list[float]) -> tuple[str, float] | None:
        """The kept record this one nearly duplicates (id, similarity), or None."""
        if not self.size:
            return None
        other_chains: Any = {"chain": {"$ne": chain_of(record)}}
        found = self.instructions.query(
            query_embeddings=[instruction],  # type: ignore[arg-type]
            n_results=min(NEIGHBOURS, self.size),
            where=other_chains,
            include=["distances", "metadatas"],
        )
        ids, distances = found["ids"][0], (found["distances"] or [[]])[0]
        metadatas = (found["metadatas"] or [[]])[0]
        close = [(i, 1 - d, m) for i, d, m in zip(ids, distances, metadatas, strict=True) if 1 - d >= self.threshold]
        if not close:
            return None
        has_context = bool(context_text(record))
        stored = self.contexts.get(ids=[i for i, _, _ in close], include=["embeddings"])
        context_of = dict(
            zip(stored["ids"], stored["embeddings"] if stored["embeddings"] is not None else [], strict=True)
        )
        for other, similarity, meta in close:
            if not has_context and not (meta or {}).get("has_context"):
                return other, round(similarity, 4)
            if has_context and (meta or {}).get("has_context"):
                context_similarity = sum(a * b for a, b in zip(context, context_of[other], strict=True))
                if context_similarity >= self.threshold:
                    return other, round(min(similarity, float(context_similarity)), 4)
        return None


def stored_instruction_embeddings(folder: RunFolder, ids: list[str]) -> list[list[float]] | None:
    """The instruction embeddings the near-duplicate index already holds, if it holds them all."""
    if not folder.dedup_path.is_dir():
        return None
    try:
        import chromadb
        from chromadb.config import Settings

        from retrieval.embedding import BundledEmbeddingFunction

        client = chromadb.PersistentClient(
            path=str(folder.dedup_path), settings=Settings(anonymized_telemetry=False)
        )
        collection = client.get_collection("instructions", embedding_function=BundledEmbeddingFunction())  # type: ignore[arg-type]
        stored = collection.get(ids=ids, include=["embeddings"])
    except Exception:  # no index, or another version of it: embed instead
        return None
    if stored["embeddings"] is None or len(stored["ids"]) != len(ids):
        return None
    by_id = dict(zip(stored["ids"], stored["embeddings"], strict=True))
    return [list(map(float, by_id[i])) for i in ids]


# --- the gate --------------------------------------------------------------------------------


class QualityGate:
    """Checks every record of a seed against everything kept so far, at commit time."""

    def __init__(self, settings: QualitySettings):
        self.settings = settings
        self.decontaminator = Decontaminator(settings.decontaminate, settings.ngram) if settings.decontaminate else None
        self.seen: dict[str, str] = {}
        self.index: NearDuplicateIndex | None = None

    def open(self, folder: RunFolder) -> QualityGate:
        """Attach to a run folder, rebuilding the state from the records it already keeps."""
        completed = {s["id"] for s in folder.seeds()}
        kept = [r for r in folder.records() if r.get("meta", {}).get("seed_id") in completed]
        if self.settings.dedup:
            self.seen = {exact_key(r): r["id"] for r in kept}
            if self.settings.near_duplicate_threshold < 1:
                self.index = NearDuplicateIndex(folder.dedup_path, self.settings.near_duplicate_threshold)
                self.index.reconcile(kept)
        return self

    def review(self, records: list[dict[str, Any]]) -> list[tuple[str, str] | None]:
        """For each record, in order, (why, detail) if it is dropped, else None; the kept ones
        join the state, so a later record of the same batch is compared with them too."""
        verdicts: list[tuple[str, str] | None] = []
        embedded = self.index.embed(records) if self.index is not None and records else ([], [])
        for position, record in enumerate(records):
            verdict: tuple[str, str] | None = None
            gram = self.decontaminator.match(record) if self.decontaminator else None
            key = exact_key(record)
            if gram is not None:
                verdict = ("contaminated", f"shares the {self.settings.ngram}-gram '{gram}' with a benchmark")
            elif self.settings.dedup and key in self.seen:
                verdict = ("duplicate", f"same prompt as {self.seen[key]}")
            elif self.index is not None:
                twin = self.index.twin(record, embedded[0][position], embedded[1][position])
                if twin is not None:
                    verdict = ("near_duplicate", f"similarity {twin[1]} to {twin[0]}")
            if verdict is None:
                if self.settings.dedup:
                    self.seen[key] = record["id"]
                if self.index is not None:
                    self.index.add([record], [embedded[0][position]], [embedded[1][position]])
            verdicts.append(verdict)
        return verdicts

    def admit(self, outcome: SeedOutcome) -> SeedOutcome:
        """The outcome with its duplicates and contaminated records moved to `dropped` (the run
        folder writes them to dropped.jsonl, the judge's too), counted in its seed status."""
        verdicts = self.review([r.model_dump(mode="json") for r in outcome.records])
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
