"""The first pass of near-duplicate search (`teams.engine.near_duplicates`): records' words as
MinHash signatures, compared many at a time, and exact shares of passages' words. Cheap next to
MiniLM, it picks the pairs worth embedding."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any, NamedTuple

from teams.runfolder.records import chain_of, context_text, instruction_text, normalise

INSTRUCTION_OVERLAP = 0.3  # word overlap (Jaccard) of two instructions below which they are not compared
PASSAGE_OVERLAP = 0.5  # the same for passages (an LSH band threshold: pairs well below it are rarely found)
PERMUTATIONS = 64


def words(text: str) -> set[bytes]:
    return {w.encode() for w in normalise(text).split()} or {b""}


_permutations: Any = None


def minhash(text: str) -> Any:
    """The MinHash of a text's words; every one with the same permutations (drawn once: datasketch
    draws them again for each signature otherwise, a sixth of the first pass's time)."""
    global _permutations
    from datasketch import MinHash

    if _permutations is None:
        first = MinHash(num_perm=PERMUTATIONS, seed=1)
        _permutations = (first.permutations, first.scheme)
    permutations, scheme = _permutations
    signature = MinHash(num_perm=PERMUTATIONS, seed=1, permutations=permutations, scheme=scheme)
    signature.update_batch(list(words(text)))
    return signature


class Entry(NamedTuple):
    """A record as the index sees it."""

    id: str
    chain: str
    instruction: str
    signature: Any  # the instruction's MinHash
    passage: str  # its context's key in NearDuplicateIndex.passages, "" if none


def entry_of(record: dict[str, Any]) -> tuple[Entry, str]:
    """A record as the index sees it, and its context (the passage's text, keyed by `Entry.passage`)."""
    context = context_text(record)
    key = hashlib.sha256(normalise(context).encode()).hexdigest() if context else ""
    instruction = instruction_text(record)
    return Entry(record["id"], chain_of(record), instruction, minhash(instruction), key), context


def words_shared(a: set[bytes], b: set[bytes]) -> float:
    """Exact Jaccard of two word sets."""
    return len(a & b) / len(a | b)


def worth_comparing(entry: Entry, other: Entry, passage_signature: Callable[[str], Any]) -> bool:
    """The first pass's test for two entries: other chains, both with a passage or neither, the
    passages (when they differ) and the instructions sharing enough words. `passage_signature`
    gives a passage key's MinHash."""
    if other.chain == entry.chain or bool(entry.passage) != bool(other.passage):
        return False
    if entry.passage != other.passage and (
        passage_signature(entry.passage).jaccard(passage_signature(other.passage)) < PASSAGE_OVERLAP
    ):
        return False
    return bool(entry.signature.jaccard(other.signature) >= INSTRUCTION_OVERLAP)


class Signatures:
    """The kept entries' instruction signatures as rows of one matrix, listed by group (their
    passage's key, or the entry's id when it has none): the first pass compares a new instruction
    with every kept one of some groups in one numpy operation. Compared one `MinHash.jaccard` at a
    time, they took half the gate's thread on a run of 256 seeds."""

    def __init__(self) -> None:
        import numpy as np

        self.entries: list[Entry] = []
        self.rows: dict[str, list[int]] = {}  # group -> its rows, in the order added
        self.hashes = np.empty((1024, PERMUTATIONS), dtype=np.uint64)

    def add(self, entry: Entry, group: str) -> None:
        import numpy as np

        row = len(self.entries)
        if row == len(self.hashes):  # full: double
            self.hashes = np.resize(self.hashes, (2 * row, PERMUTATIONS))
        self.hashes[row] = entry.signature.hashvalues
        self.rows.setdefault(group, []).append(row)
        self.entries.append(entry)

    def overlapping(self, signature: Any, groups: Iterable[str]) -> list[Entry]:
        """The entries of these groups whose instruction shares enough words with `signature`'s
        (the MinHash estimate of their Jaccard, as `MinHash.jaccard` computes it), in the order added."""
        import numpy as np

        rows = np.sort(np.fromiter(chain.from_iterable(self.rows.get(g, ()) for g in groups), dtype=np.int64))
        shared = np.count_nonzero(self.hashes[rows] == signature.hashvalues, axis=1) / np.float64(PERMUTATIONS)
        return [self.entries[i] for i in rows[shared >= INSTRUCTION_OVERLAP]]


class PassageWords:
    """Passages' distinct words as sorted 64-bit hashes (about 8 bytes a word), kept for every
    passage met: the exact share of words of one passage with many others in one numpy operation.
    A hash collision (some 1 in 10^15 for a pair of passages) would count two words as one."""

    def __init__(self, text_of: Callable[[str], str]):
        self.text_of = text_of  # a passage's text by its key
        self.hashes: dict[str, Any] = {}

    def of(self, key: str) -> Any:
        import numpy as np

        found = self.hashes.get(key)
        if found is None:
            found = self.hashes[key] = np.unique(np.fromiter(map(hash, words(self.text_of(key))), dtype=np.int64))
        return found

    def sharing(self, key: str, others: Iterable[str], at_least: float) -> list[str]:
        """Those of the other passages that are this one or share at least `at_least` of its words
        (Jaccard), in order."""
        import numpy as np

        others = list(others)
        if not others:
            return []
        mine = self.of(key)
        theirs = [self.of(other) for other in others]
        flat = np.concatenate(theirs)
        common_words = mine[np.searchsorted(mine, flat).clip(max=len(mine) - 1)] == flat
        sizes = np.fromiter(map(len, theirs), dtype=np.int64, count=len(theirs))
        common = np.add.reduceat(common_words.astype(np.int64), np.cumsum(sizes) - sizes)
        shared = common / (len(mine) + sizes - common)
        return [o for o, s in zip(others, shared, strict=True) if o == key or s >= at_least]
