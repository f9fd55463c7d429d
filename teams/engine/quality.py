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
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

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

INSTRUCTION_OVERLAP = 0.3  # word overlap (Jaccard) of two instructions below which they are not compared
PASSAGE_OVERLAP = 0.5  # the same for passages (an LSH band threshold: pairs well below it are rarely found)
PERMUTATIONS = 64
EMBEDDINGS_KEPT = 20_000  # embeddings cached (by text) for the similarity check
# torch threads for the check: one, so the run's event loop keeps the other core (with two, each
# short encode spun both cores and cost ten times the CPU on a busy 2-core machine)
EMBEDDING_THREADS = 1
PASSAGE_BATCH = 4  # passages (up to 256 tokens) per forward pass: larger batches cost more per passage, not less


def _words(text: str) -> set[bytes]:
    return {w.encode() for w in normalise(text).split()} or {b""}


def _minhash(text: str) -> Any:
    from datasketch import MinHash

    signature = MinHash(num_perm=PERMUTATIONS, seed=1)
    signature.update_batch(list(_words(text)))
    return signature


class _Entry(NamedTuple):
    id: str
    chain: str
    instruction: str
    signature: Any  # the instruction's MinHash
    passage: str  # its context's key in NearDuplicateIndex.passages, "" if none


class NearDuplicateIndex:
    """The kept records' instructions and passages, in memory, rebuilt from the records on open.

    A cheap first pass finds the candidates: records whose passage shares enough words with this
    one's (MinHash LSH over the distinct passages) and whose instruction does too (MinHash
    estimate). Only those are embedded (the bundled MiniLM, each text once, cached by content)
    and compared as before: cosine similarity of instructions, and of contexts, at or above the
    threshold. Nothing is written to disk: the state is only ever derived from `records.jsonl`."""

    def __init__(self, threshold: float):
        from datasketch import MinHashLSH

        from retrieval.embedding import load_model

        load_model()  # now, before seeds are in flight: not in the gate's thread while calls are made
        self.threshold = threshold
        self.passages: dict[str, tuple[str, list[_Entry]]] = {}  # key -> (text, entries)
        self.passage_lsh = MinHashLSH(threshold=PASSAGE_OVERLAP, num_perm=PERMUTATIONS)
        self.bare: dict[str, _Entry] = {}  # records without a context, by id
        self.bare_lsh = MinHashLSH(threshold=INSTRUCTION_OVERLAP, num_perm=PERMUTATIONS)
        self._signatures: OrderedDict[str, Any] = OrderedDict()  # passage key -> MinHash, recent only
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self.embedded = 0  # texts embedded, for the benchmark

    def probe(self, record: dict[str, Any]) -> _Entry:
        context = context_text(record)
        key = hashlib.sha256(normalise(context).encode()).hexdigest() if context else ""
        if key and key not in self.passages:
            self.passages[key] = (context, [])
        instruction = instruction_text(record)
        return _Entry(record["id"], chain_of(record), instruction, _minhash(instruction), key)

    def _passage_signature(self, key: str) -> Any:
        signature = self._signatures.get(key)
        if signature is None:
            signature = self._signatures[key] = _minhash(self.passages[key][0])
            if len(self._signatures) > EMBEDDINGS_KEPT:
                self._signatures.popitem(last=False)
        return signature

    def ids(self) -> set[str]:
        """The kept records the index holds."""
        return set(self.bare) | {e.id for _, entries in self.passages.values() for e in entries}

    def add(self, entry: _Entry) -> None:
        if not entry.passage:
            self.bare[entry.id] = entry
            self.bare_lsh.insert(entry.id, entry.signature, check_duplication=False)
            return
        entries = self.passages[entry.passage][1]
        if not entries:
            self.passage_lsh.insert(entry.passage, self._passage_signature(entry.passage), check_duplication=False)
        entries.append(entry)

    def candidates(self, entry: _Entry) -> list[_Entry]:
        """Kept records of other chains whose instruction (and passage) share enough words."""
        if entry.passage:
            keys = self.passage_lsh.query(self._passage_signature(entry.passage))
            found = [other for key in keys for other in self.passages[key][1]]
        else:
            found = [self.bare[i] for i in self.bare_lsh.query(entry.signature)]
        return [
            other
            for other in found
            if other.chain != entry.chain and entry.signature.jaccard(other.signature) >= INSTRUCTION_OVERLAP
        ]

    def _may_compare(self, entry: _Entry, other: _Entry) -> bool:
        """Whether `twin` may compare two new entries (of one batch): the first pass's test."""
        if other.chain == entry.chain or bool(entry.passage) != bool(other.passage):
            return False
        if entry.passage != other.passage and (
            self._passage_signature(entry.passage).jaccard(self._passage_signature(other.passage)) < PASSAGE_OVERLAP
        ):
            return False
        return bool(entry.signature.jaccard(other.signature) >= INSTRUCTION_OVERLAP)

    def prefetch(self, entries: list[_Entry]) -> None:
        """Embed in one batch what checking these entries (a seed's records, in order) may
        compare, instead of a model call per record: only the cache is filled, `twin` decides."""
        pairs = [
            (entry, other)
            for i, entry in enumerate(entries)
            for other in self.candidates(entry) + [o for o in entries[:i] if self._may_compare(entry, o)]
        ]
        instructions = self._embed([text for e, o in pairs for text in (e.instruction, o.instruction)])
        contexts = [
            self.passages[key][0]
            for (entry, other), mine, theirs in zip(pairs, instructions[::2], instructions[1::2], strict=True)
            if entry.passage != other.passage and float(mine @ theirs) >= self.threshold
            for key in (entry.passage, other.passage)
        ]
        self._embed(contexts, PASSAGE_BATCH)

    def _embed(self, texts: list[str], batch_size: int = 64) -> list[Any]:
        import numpy as np

        from retrieval.embedding import embed_texts

        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            for key, vector in zip(missing, embed_texts([text_of[k] for k in missing], batch_size, EMBEDDING_THREADS), strict=True):
                self._vectors[key] = np.asarray(vector, dtype=np.float32)
            self.embedded += len(missing)
        vectors = []
        for key in keys:
            self._vectors.move_to_end(key)
            vectors.append(self._vectors[key])
        while len(self._vectors) > EMBEDDINGS_KEPT:
            self._vectors.popitem(last=False)
        return vectors

    def twin(self, entry: _Entry) -> tuple[str, float] | None:
        """The kept record this one nearly duplicates (id, similarity), or None."""
        found = self.candidates(entry)
        if not found:
            return None
        mine, *theirs = self._embed([entry.instruction] + [o.instruction for o in found])
        close = sorted(
            ((float(mine @ vector), other) for vector, other in zip(theirs, found, strict=True)),
            key=lambda pair: -pair[0],
        )
        for similarity, other in close:
            if similarity < self.threshold:
                break
            if not entry.passage:
                return other.id, round(similarity, 4)
            if other.passage == entry.passage:
                return other.id, round(similarity, 4)
            a, b = self._embed([self.passages[entry.passage][0], self.passages[other.passage][0]], PASSAGE_BATCH)
            context_similarity = float(a @ b)
            if context_similarity >= self.threshold:
                return other.id, round(min(similarity, context_similarity), 4)
        return None


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
                self.index = NearDuplicateIndex(self.settings.near_duplicate_threshold)
                for record in kept:  # kept records are not near duplicates of each other: no check
                    self.index.add(self.index.probe(record))
        return self

    def review(self, records: list[dict[str, Any]]) -> list[tuple[str, str] | None]:
        """For each record, in order, (why, detail) if it is dropped, else None; the kept ones
        join the state, so a later record of the same batch is compared with them too."""
        verdicts: list[tuple[str, str] | None] = []
        entries: list[_Entry | None] = [None] * len(records)
        if self.index is not None:
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
