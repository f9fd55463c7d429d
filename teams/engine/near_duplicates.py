"""Near-duplicate search over a run's kept records: a cheap first pass (MinHash over words)
picks the pairs worth comparing, MiniLM decides (cosine of instructions, and of passages, at or
above the threshold). `teams.engine.quality.QualityGate` holds one index per run."""

from __future__ import annotations

import math
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from teams.engine.first_pass import (
    INSTRUCTION_OVERLAP,
    PASSAGE_OVERLAP,
    PERMUTATIONS,
    Entry,
    PassageWords,
    Signatures,
    entry_of,
    minhash,
    words,
    words_shared,
    worth_comparing,
)

# Two different passages are embedded and compared only when at least this share of their words is
# common (exact Jaccard of the contexts' words): in a run of 256 seeds (varied fake), of the 1,547
# passage pairs MiniLM compared, every one at a cosine of 0.95 or more shared 80% of its words or
# more, and none under 70% passed 0.94. The 1,379 pairs under 60% cost 511 of the run's 696
# passage embeddings, a third of the gate's CPU (`bench/gate_cost.py --ahead`). Pairs under 60%
# reached 0.885 at most: below a threshold of 0.9 every pair is compared, as before. The first pass
# leaves such pairs out too, so their instructions are not compared either (`_sharing_words`).
PASSAGE_WORDS_SHARED = 0.6
PASSAGE_WORDS_FROM_THRESHOLD = 0.9
# Two different passages that share at least this share of their words are alike without being
# embedded: nearly the same text, as a refined record's edited passage often is. In two runs of 256
# seeds, the 29,332 pairs compared at 90% or more all had a cosine of 0.966 or more (0.9978 for the
# 29,318 of the template fake, whose edits tag the passage); under 90%, pairs fell to 0.896. Those
# pairs cost most of the template run's 7,048 passage embeddings (246 of its gate's 304 CPU-s).
# Only at thresholds up to 0.95: above, MiniLM decides as before.
PASSAGE_WORDS_ALIKE = 0.9
PASSAGE_WORDS_ALIKE_UP_TO_THRESHOLD = 0.95
EMBEDDINGS_KEPT = 20_000  # embeddings cached (by text) for the similarity check
# torch threads for the check: one, so the run's event loop keeps the other core (with two, each
# short encode spun both cores and cost ten times the CPU on a busy 2-core machine)
EMBEDDING_THREADS = 1
PASSAGE_BATCH = 4  # passages (up to 256 tokens) per forward pass: larger batches cost more per passage, not less
# What the gate embeds itself (mostly passages it compares with kept records'), from this many texts
# on, is split with a helper thread. The gate takes one seed at a time: on the template rows of
# `bench/throughput.py` its thread was at 70% of a core in the run's second half while seeds
# waited their turn and the loop used a third of its core.
SPLIT_FROM = 2


@cache
def _helper() -> ThreadPoolExecutor:
    """The thread that embeds half of what the gate embeds itself: one per process, made on first use."""
    return ThreadPoolExecutor(1, thread_name_prefix="gate-helper")


class NearDuplicateIndex:
    """The kept records' instructions and passages, in memory, rebuilt from the records on open.

    A cheap first pass finds the candidates: records whose passage shares enough words with this
    one's (MinHash LSH over the distinct passages, then, at thresholds from 0.9, the exact share
    of words: PASSAGE_WORDS_SHARED) and whose instruction does too (MinHash estimate). Only those
    are embedded (the bundled MiniLM, each text once, cached by content) and compared as before:
    cosine similarity of instructions, and of contexts, at or above the threshold; two different
    contexts not when they share nearly all their words (PASSAGE_WORDS_ALIKE: alike as they are).
    Nothing is written to disk: the state is only ever derived from `records.jsonl`."""

    def __init__(self, threshold: float):
        from datasketch import MinHashLSH
        from threadpoolctl import threadpool_limits

        from retrieval.embedding import load_model

        load_model()  # now, before seeds are in flight: not in the gate's thread while calls are made
        # numpy's OpenBLAS on the calling thread only: its second thread, woken for the similarity
        # products, spun on the other core between them (6-10 CPU-s of a 90 s run, taken from the
        # event loop), and the products are too small to gain from it
        threadpool_limits(1, user_api="blas")
        self.threshold = threshold
        self.passage_words_shared = PASSAGE_WORDS_SHARED if threshold >= PASSAGE_WORDS_FROM_THRESHOLD else 0.0
        # above PASSAGE_WORDS_ALIKE_UP_TO_THRESHOLD no pair is alike by its words (a share is at most 1)
        self.passage_words_alike = PASSAGE_WORDS_ALIKE if threshold <= PASSAGE_WORDS_ALIKE_UP_TO_THRESHOLD else math.inf
        self.passages: dict[str, tuple[str, list[Entry]]] = {}  # key -> (text, entries)
        self.passage_lsh = MinHashLSH(threshold=PASSAGE_OVERLAP, num_perm=PERMUTATIONS)
        self.bare: dict[str, Entry] = {}  # records without a context, by id
        self.bare_lsh = MinHashLSH(threshold=INSTRUCTION_OVERLAP, num_perm=PERMUTATIONS)
        self._signatures: OrderedDict[str, Any] = OrderedDict()  # passage key -> MinHash, recent only
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._signatures_kept = Signatures()
        # what `prefetch` found for a batch's entries among the records kept before it, for `twin`
        self._found_before: dict[str, tuple[list[Entry], Any]] = {}
        self._kept_before = 0  # how many entries the index held then
        self._passage_words = PassageWords(lambda key: self.passages[key][0])
        self.embedded = 0  # texts embedded, for the benchmark

    def probe(self, record: dict[str, Any]) -> Entry:
        entry, context = entry_of(record)
        if entry.passage and entry.passage not in self.passages:
            self.passages[entry.passage] = (context, [])
        return entry

    def embed_ahead(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The vectors of a seed's instructions, and of the passages its own records will have
        compared, made before its turn at the gate, in another thread: which kept records they are
        compared with depends on the order seeds are committed in, their vectors do not. So the
        gate's one-seed-at-a-time part no longer waits on MiniLM for them (`remember`). Of the
        index, this reads `threshold`, the passage word shares and the cache of vectors: an
        instruction an earlier seed had too (in a varied run of 256 seeds, one in six) is not
        embedded again; the gate keeps its own vector for it anyway."""
        from retrieval.embedding import embed_matrix

        probed = [entry_of(r) for r in records]
        texts = list(dict.fromkeys(entry.instruction for entry, _ in probed))
        if not texts:
            return {}
        known = {text: vector for text in texts if (vector := self._vectors.get(text)) is not None}
        missing = [text for text in texts if text not in known]
        vectors = dict(zip(missing, embed_matrix(missing, 64, EMBEDDING_THREADS), strict=True)) if missing else {}
        passages = self._passages_compared_within(probed, known | vectors)
        if passages:
            vectors.update(zip(passages, embed_matrix(passages, PASSAGE_BATCH, EMBEDDING_THREADS), strict=True))
        return vectors

    def _passages_compared_within(self, probed: list[tuple[Entry, str]], vectors: dict[str, Any]) -> list[str]:
        """The passages the gate will compare between two of a seed's own records (`entry_of`'s):
        instructions at or above the threshold, on different passages, worth comparing by the first
        pass. A refined record's edited passage is the common case: most of the passages a run
        embeds, embedded in the gate's turn otherwise."""
        import numpy as np

        contexts: dict[str, str] = {}
        for entry, context in probed:
            contexts.setdefault(entry.passage, context)  # the first, as `probe` keeps it
        signatures: dict[str, Any] = {}  # this thread's own: the index's are the gate thread's

        def passage_signature(key: str) -> Any:
            if key not in signatures:
                signatures[key] = minhash(contexts[key])
            return signatures[key]

        close = np.stack([vectors[entry.instruction] for entry, _ in probed])
        close = np.triu(close @ close.T >= self.threshold, 1)
        found: list[str] = []
        for a, b in zip(*np.nonzero(close), strict=True):
            entry, other = probed[a][0], probed[b][0]
            if (
                entry.passage
                and entry.passage != other.passage
                and worth_comparing(entry, other, passage_signature)
                and self._passages_by_words(contexts[entry.passage], contexts[other.passage]) is None
            ):
                found += [contexts[entry.passage], contexts[other.passage]]
        return list(dict.fromkeys(found))

    def remember(self, vectors: dict[str, Any]) -> None:
        """Take vectors made by `embed_ahead` into the cache (a text cached already keeps its own)."""
        for text, vector in vectors.items():
            self._vectors.setdefault(text, vector)
        self.embedded += len(vectors)

    def _passages_by_words(self, passage: str, other: str) -> bool | None:
        """Whether two different passages (their texts) are alike by their words alone: False when
        they share too few (PASSAGE_WORDS_SHARED), True when they share nearly all
        (PASSAGE_WORDS_ALIKE), None when MiniLM must decide. From the texts, not `PassageWords`:
        few pairs get this far, and the embed-ahead thread asks it of passages the index has not met."""
        shared = words_shared(words(passage), words(other))
        if shared < self.passage_words_shared:
            return False
        return True if shared >= self.passage_words_alike else None

    def _passage_signature(self, key: str) -> Any:
        signature = self._signatures.get(key)
        if signature is None:
            signature = self._signatures[key] = minhash(self.passages[key][0])
            if len(self._signatures) > EMBEDDINGS_KEPT:
                self._signatures.popitem(last=False)
        return signature

    def ids(self) -> set[str]:
        """The kept records the index holds."""
        return set(self.bare) | {e.id for _, entries in self.passages.values() for e in entries}

    def add(self, entry: Entry) -> None:
        if not entry.passage:
            self.bare[entry.id] = entry
            self.bare_lsh.insert(entry.id, entry.signature, check_duplication=False)
        else:
            entries = self.passages[entry.passage][1]
            if not entries:
                self.passage_lsh.insert(entry.passage, self._passage_signature(entry.passage), check_duplication=False)
            entries.append(entry)
        self._signatures_kept.add(entry, entry.passage or entry.id)

    def _groups(self, entry: Entry) -> list[str]:
        """The groups of kept entries (`Signatures`) whose passage shares enough words with this
        one's (found by the LSH, then those sharing too few words for the passages to be compared
        left out), or, without a passage, the kept bare entries whose instruction does."""
        if entry.passage:
            found = self.passage_lsh.query(self._passage_signature(entry.passage))
            return self._sharing_words(entry.passage, found)
        return list(self.bare_lsh.query(entry.signature))

    def _sharing_words(self, key: str, others: list[str]) -> list[str]:
        """Those of the other passages (keys) that are this one or share enough of its words to be
        compared with it (PASSAGE_WORDS_SHARED), in order. A pair sharing fewer would only be
        skipped in `twin`: leaving it out here spares comparing its instructions. The LSH finds
        many such pairs (passages alike in their boilerplate: in a run of 256 seeds, 94% of what
        it found), and the instructions on them were compared first."""
        if not self.passage_words_shared or not others:
            return list(others)
        return self._passage_words.sharing(key, others, self.passage_words_shared)

    def candidates(self, entry: Entry, groups: list[str] | None = None) -> list[Entry]:
        """Kept records of other chains whose instruction (and passage) share enough words, in the
        order added. `groups`: `_groups(entry)` if known (the same for every entry on a passage)."""
        found = self._signatures_kept.overlapping(entry.signature, self._groups(entry) if groups is None else groups)
        return [o for o in found if o.chain != entry.chain]

    def _in_group(self, entry: Entry, other: Entry) -> bool:
        """Whether a kept entry's passage is in `_groups(entry)` (both with a passage), without
        asking the LSH: it is this one, or collides with it in one of the LSH's bands and shares
        enough words."""
        if other.passage == entry.passage:
            return True
        mine, theirs = (self._passage_signature(k).hashvalues for k in (entry.passage, other.passage))
        if not any((mine[start:end] == theirs[start:end]).all() for start, end in self.passage_lsh.hashranges):
            return False
        return bool(self._sharing_words(entry.passage, [other.passage]))

    def _candidates_since(self, entry: Entry, start: int) -> list[Entry]:
        """`candidates` among the entries added from the `start`-th on (a few: those of this batch
        kept so far), computed for those alone."""
        added = [
            o
            for o in self._signatures_kept.entries[start:]
            if o.chain != entry.chain and entry.signature.jaccard(o.signature) >= INSTRUCTION_OVERLAP
        ]
        if not added:
            return []
        if not entry.passage:  # the kept bare entries whose instruction the LSH finds: asked once
            groups = set(self.bare_lsh.query(entry.signature))
            return [o for o in added if o.id in groups]
        return [o for o in added if o.passage and self._in_group(entry, o)]

    def prefetch(self, entries: list[Entry]) -> None:
        """Embed in one batch what checking these entries (a seed's records, in order) may
        compare, instead of a model call per record: only the cache is filled, `twin` decides."""
        groups: dict[str, list[str]] = {}  # by passage: nothing is added to the index until `twin`
        for entry in entries:
            if entry.passage and entry.passage not in groups:
                groups[entry.passage] = self._groups(entry)
        before = [self.candidates(entry, groups.get(entry.passage)) for entry in entries]
        found = [
            kept + [o for o in entries[:i] if worth_comparing(entry, o, self._passage_signature)]
            for i, (entry, kept) in enumerate(zip(entries, before, strict=True))
        ]
        texts = [e.instruction for e, others in zip(entries, found, strict=True) if others]
        self._embed(texts + [o.instruction for others in found for o in others])
        self._found_before.clear()
        self._kept_before = len(self._signatures_kept.entries)
        contexts: list[str] = []
        for entry, kept, others in zip(entries, before, found, strict=True):
            similarities = self._similarities(entry, others) if others else None
            # `twin` takes these up for the records kept before the batch (its first pass would find
            # the same ones, in the same order: entries added since come after them)
            self._found_before[entry.id] = (kept, None if similarities is None else similarities[: len(kept)])
            if similarities is None:
                continue
            for other, similarity in zip(others, similarities, strict=True):
                if entry.passage == other.passage or similarity < self.threshold:
                    continue
                pair = [self.passages[entry.passage][0], self.passages[other.passage][0]]
                if self._passages_by_words(*pair) is None:
                    contexts += pair
        self._embed(contexts, PASSAGE_BATCH)

    def _similarities(self, entry: Entry, others: list[Entry]) -> Any:
        """Cosine similarity of the entry's instruction with each of the others', in one operation
        rather than one per pair. Not BLAS's matrix-vector product: its rounding depends on a row's
        place among the others, so two records with the same instruction could come out a last bit
        apart, and which of them `twin` names (the most similar, ties in the order added) on how
        many candidates the first pass found."""
        import numpy as np

        mine, *theirs = self._embed([entry.instruction] + [o.instruction for o in others])
        return np.einsum("ij,j->i", np.stack(theirs), mine)

    def _embed(self, texts: list[str], batch_size: int = 64) -> list[Any]:
        from retrieval.embedding import embed_matrix

        # keyed by the text itself: the texts are held by the index anyway, and a str caches its
        # hash, where a digest per text and pair took a sixth of the gate's time
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if len(missing) >= SPLIT_FROM:  # the second half in the helper thread, meanwhile
            half = (len(missing) + 1) // 2
            theirs = _helper().submit(embed_matrix, missing[half:], batch_size, EMBEDDING_THREADS)
            rows = [*embed_matrix(missing[:half], batch_size, EMBEDDING_THREADS), *theirs.result()]
        else:
            rows = list(embed_matrix(missing, batch_size, EMBEDDING_THREADS)) if missing else []
        for text, vector in zip(missing, rows, strict=True):
            self._vectors[text] = vector
        self.embedded += len(missing)
        vectors = [self._vectors[text] for text in texts]
        for text in dict.fromkeys(texts):  # each text once: a seed's pairs name the same texts many times
            self._vectors.move_to_end(text)
        while len(self._vectors) > EMBEDDINGS_KEPT:
            self._vectors.popitem(last=False)
        return vectors

    def twin(self, entry: Entry) -> tuple[str, float] | None:
        """The kept record this one nearly duplicates (id, similarity), or None."""
        import numpy as np

        known = self._found_before.pop(entry.id, None)
        if known is None:
            found = self.candidates(entry)
            similarities = self._similarities(entry, found) if found else None
        else:  # the first pass and similarities `prefetch` made, and those of entries added since
            found, similarities = known
            added = self._candidates_since(entry, self._kept_before)
            if added:
                found = found + added
                fresh = self._similarities(entry, added)
                similarities = fresh if similarities is None else np.concatenate([similarities, fresh])
        if similarities is None:
            return None
        close = [
            (float(similarities[i]), found[i])
            for i in np.argsort(-similarities, kind="stable")  # most similar first, ties in the order added
            if similarities[i] >= self.threshold
        ]
        for similarity, other in close:
            if not entry.passage:
                return other.id, round(similarity, 4)
            if other.passage == entry.passage:
                return other.id, round(similarity, 4)
            texts = [self.passages[entry.passage][0], self.passages[other.passage][0]]
            by_words = self._passages_by_words(*texts)
            if by_words is not None:
                if by_words:  # the same passage but for a word or two: as if the same
                    return other.id, round(similarity, 4)
                continue
            a, b = self._embed(texts, PASSAGE_BATCH)
            context_similarity = float(a @ b)
            if context_similarity >= self.threshold:
                return other.id, round(min(similarity, context_similarity), 4)
        return None
