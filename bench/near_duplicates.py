"""Recall and precision of near-duplicate search on planted duplicates: the run's method (a
MinHash LSH first pass, MiniLM on its candidates: `teams.engine.near_duplicates`) against an exhaustive
MiniLM search (every record embedded, compared with every kept one: what the Chroma index
approximated before, with its 10 nearest).

    /path/to/python bench/near_duplicates.py [--passages 300] [--threshold 0.95]

Passages are distinct paragraphs of real prose (`bench/throughput.py`'s). Each gets a question;
every third passage gets a second record on the same passage with a paraphrase of its question
(planted near duplicate: should be dropped); every other passage a second, different question on
the same passage (should be kept). The questions come from six templates about a term of the
passage, so many records share a question with another passage's (kept: different passages).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TEMPLATES = [
    (
        "What does the passage say about {x}?",
        "According to the passage, what is said about {x}?",
        "What does the passage tell us about {x}?",
    ),
    (
        "Which statement about {x} is best supported by the passage?",
        "Which statement about {x} does the passage best support?",
        "Which of these statements regarding {x} does the text support best?",
    ),
    (
        "According to the passage, what happens when {x} is used?",
        "What happens, according to the passage, when {x} is used?",
        "Per the text, what is the result of using {x}?",
    ),
    (
        "What is the main purpose of {x} as described in the passage?",
        "As the passage describes it, what is the main purpose of {x}?",
        "What is the chief purpose of {x} described in the passage?",
    ),
    (
        "Which detail about {x} does the passage give first?",
        "What is the first detail the passage gives about {x}?",
        "Which detail about {x} is mentioned first in the passage?",
    ),
    (
        "How does the passage explain {x}?",
        "In what way does the passage explain {x}?",
        "How is {x} explained in the passage?",
    ),
]
STOP = {"because", "between", "without", "however", "through", "whether", "otherwise", "example", "following"}


def term(passage: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z_]{7,}", passage) if w.lower() not in STOP]
    return words[0] if words else passage.split()[0]


def record(rid: str, question: str, passage: str, seed: str, key: str) -> dict[str, Any]:
    prompt = f"Read the passage and answer the question.\n\nPassage:\n{passage}\n\nQuestion:\n{question}"
    return {
        "id": rid,
        "skill": "reading_comprehension",
        "subcategory": "literal_comprehension",
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "Final answer: A"}],
        "meta": {"seed_id": seed, "instruction_key": key, "instruction": question},
    }


def planted(count: int) -> tuple[list[dict[str, Any]], set[str]]:
    """The records in commit order, and the ids that are planted near duplicates."""
    from bench.throughput import passages

    texts = passages()[:count]
    first, second, twins = [], [], set()
    for i, passage in enumerate(texts):
        x, t = term(passage), i % len(TEMPLATES)
        first.append(record(f"p{i}", TEMPLATES[t][0].format(x=x), passage, f"s{i}", f"p{i}"))
        if i % 3 == 0:  # a paraphrase, light or heavier, of the same question on the same passage
            twins.add(f"p{i}-twin")
            question = TEMPLATES[t][1 + (i // 3) % 2].format(x=x)
            second.append(record(f"p{i}-twin", question, passage, f"t{i}", f"p{i}-twin"))
        else:  # another question on the same passage
            question = TEMPLATES[(t + 1 + i % 5) % len(TEMPLATES)][0].format(x=x)
            second.append(record(f"p{i}-other", question, passage, f"t{i}", f"p{i}-other"))
    return first + second, twins


def exhaustive(records: list[dict[str, Any]], threshold: float) -> set[str]:
    """Every record embedded, compared with every kept one of another chain (the rule of
    `teams.engine.near_duplicates`: instructions and contexts both at least `threshold` alike)."""
    import numpy as np

    from retrieval.embedding import embed_texts
    from teams.runfolder.records import chain_of, context_text, instruction_text

    instructions = np.asarray(embed_texts([instruction_text(r) for r in records]))
    contexts = np.asarray(embed_texts([context_text(r) for r in records]))
    kept: list[int] = []
    dropped = set()
    for i, r in enumerate(records):
        others = [k for k in kept if chain_of(records[k]) != chain_of(r)]
        if others:
            near = (instructions[others] @ instructions[i] >= threshold) & (contexts[others] @ contexts[i] >= threshold)
            if near.any():
                dropped.add(r["id"])
                continue
        kept.append(i)
    return dropped


def lsh_then_minilm(records: list[dict[str, Any]], threshold: float, work: Path) -> tuple[set[str], int]:
    from teams.engine.quality import QualityGate, QualitySettings
    from teams.runfolder import RunFolder

    gate = QualityGate(QualitySettings(near_duplicate_threshold=threshold)).open(RunFolder.create(work, "planted"))
    verdicts = gate.review(records)
    assert gate.index is not None
    return {r["id"] for r, v in zip(records, verdicts, strict=True) if v and v[0] == "near_duplicate"}, gate.index.embedded


def scores(dropped: set[str], twins: set[str]) -> tuple[float, float]:
    hits = len(dropped & twins)
    return 100 * hits / len(twins), (100 * hits / len(dropped) if dropped else 100.0)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--threshold", type=float, default=0.95)
    args = parser.parse_args()
    records, twins = planted(args.passages)
    print(f"{len(records)} records on {args.passages} passages, {len(twins)} planted near duplicates")
    from retrieval.embedding import embed_texts

    embed_texts(["load the model before the clock"])
    start = time.process_time()
    reference = exhaustive(records, args.threshold)
    reference_cpu = time.process_time() - start
    start = time.process_time()
    found, embedded = lsh_then_minilm(records, args.threshold, Path(tempfile.mkdtemp(prefix="agentinstruct-nd-")))
    found_cpu = time.process_time() - start
    print(f"{'method':<36} {'recall':>7} {'precision':>9} {'texts embedded':>14} {'CPU s':>6}")
    for name, dropped, texts, cpu in (
        ("exhaustive MiniLM (every record)", reference, 2 * len(records), reference_cpu),
        ("MinHash LSH, then MiniLM (the run's)", found, embedded, found_cpu),
    ):
        recall, precision = scores(dropped, twins)
        print(f"{name:<36} {recall:>6.1f}% {precision:>8.1f}% {texts:>14} {cpu:>6.2f}")
    missed = sorted(reference - found)
    print(f"found by the exhaustive search only: {len(missed)} {missed[:5]}; by the run's only: {sorted(found - reference)[:5]}")


if __name__ == "__main__":
    main()
