"""Could a cheaper filter spare MiniLM most of near-duplicate search's work? For the pairs the
run's first pass (MinHash) sends to MiniLM, replayed from a finished run, each cheap filter is
set to keep 100%, 99.9% and 99.5% of the pairs MiniLM finds at or above the threshold, and the
script prints how many instructions MiniLM would still have to embed.

    /path/to/python bench/near_duplicate_filters.py RUN_FOLDER [--seeds 256] [--threshold 0.95]

RUN_FOLDER is e.g. `bench/throughput.py`'s runs/c128dvaried (its work folder is printed first).
The seeds are replayed in commit order through the gate's index (`teams.engine.near_duplicates`),
each record compared with the kept records the gate compared it with, and joining the index when
the run kept it. The filters, each a cosine of unit vectors or a word overlap:

- static: each token's vector is MiniLM's output for that token alone, centred, weighted by the
  log of its id (a frequency proxy), summed over the text: Model2Vec's recipe without its PCA,
  built from the bundled weights (nothing downloaded);
- words: the exact Jaccard of the two instructions' words (the first pass estimates it at 0.3);
- layers k: MiniLM cut after its first k of 6 layers (about k/6 of its cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SPECIAL = (0, 101, 102)  # [PAD], [CLS], [SEP]


def compared_pairs(run: Path, seeds: int) -> tuple[list[tuple[str, str, str]], int]:
    """(record id, its instruction, a kept one's it is compared with) for every pair the first pass
    finds, and how many records were replayed."""
    import json
    import tempfile

    from bench.gate_cost import batches
    from teams.engine.quality import QualityGate, QualitySettings
    from teams.runfolder import RunFolder

    kept = {json.loads(line)["id"] for line in (run / "records.jsonl").open(encoding="utf-8")}
    gate = QualityGate(QualitySettings()).open(RunFolder.create(Path(tempfile.mkdtemp()), "replay"))
    index = gate.index
    assert index is not None
    pairs, replayed = [], 0
    for batch in batches(run)[:seeds]:
        replayed += len(batch)
        for record in batch:
            entry = index.probe(record)
            pairs += [(entry.id, entry.instruction, other.instruction) for other in index.candidates(entry)]
            if entry.id in kept:
                index.add(entry)
    return pairs, replayed


def static_vectors(texts: list[str]) -> Any:
    import numpy as np
    import torch

    from retrieval import embedding

    encoder = embedding.load_model()
    ids = [[t for t in e.ids if t not in SPECIAL] for e in embedding._tokenizer.encode_batch(texts)]
    vocab = sorted({t for text in ids for t in text})
    with torch.inference_mode():
        tokens = torch.tensor([[101, t, 102] for t in vocab])
        table = dict(zip(vocab, encoder(tokens, torch.ones_like(tokens)).numpy(), strict=True))
    mean = np.mean(list(table.values()), axis=0)
    rows = np.stack(
        [np.sum([(table[t] - mean) * np.log1p(t / 100) for t in text] or [mean * 0], axis=0) for text in ids]
    )
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def cut_model_vectors(texts: list[str], layers: int) -> tuple[Any, float]:
    import torch

    from retrieval.embedding import reference_model

    model = reference_model()
    bert = model[0].auto_model
    bert.encoder.layer = torch.nn.ModuleList(list(bert.encoder.layer)[:layers])
    start = time.process_time()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
    return vectors, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--threshold", type=float, default=0.95)
    args = parser.parse_args()
    import numpy as np

    from retrieval.embedding import embed_matrix
    from teams.runfolder.records import normalise

    pairs, replayed = compared_pairs(args.run, args.seeds)
    texts = sorted({text for _, *two in pairs for text in two})
    row = {text: i for i, text in enumerate(texts)}
    ids = np.array([p[0] for p in pairs])
    a = np.array([row[p[1]] for p in pairs])
    b = np.array([row[p[2]] for p in pairs])
    start = time.process_time()
    minilm = embed_matrix(texts, 64, 1)
    minilm_cpu = time.process_time() - start
    close = (minilm[a] * minilm[b]).sum(axis=1) >= args.threshold
    records = len(set(ids))
    print(
        f"{len(pairs)} pairs compared by MiniLM today, for {records} of the {replayed} records "
        f"({len(pairs) / max(records, 1):.0f} each) "
        f"and {len(texts)} distinct instructions ({minilm_cpu:.1f} CPU s to embed, one thread); "
        f"{int(close.sum())} pairs at or above {args.threshold}, for {len(set(ids[close]))} records"
    )
    words = [set(normalise(t).split()) for t in texts]
    filters: list[tuple[str, Any, str]] = [
        ("static", static_vectors(texts), "microseconds"),
        ("words", None, "microseconds"),
    ]
    for layers in (1, 2, 3):
        vectors, cpu = cut_model_vectors(texts, layers)
        filters.append((f"layers {layers}", vectors, f"{cpu:.1f} CPU s"))
    print(
        f"\n{'filter':<10} {'its cost':>13} {'keeps of the close pairs':>24} {'threshold':>9} {'pairs left':>10} {'instructions MiniLM embeds':>27}"
    )
    for name, vectors, cost in filters:
        if vectors is None:
            score = np.array(
                [len(words[i] & words[j]) / max(len(words[i] | words[j]), 1) for i, j in zip(a, b, strict=True)]
            )
        else:
            score = (vectors[a] * vectors[b]).sum(axis=1)
        for share in (1.0, 0.999, 0.995):
            cut = float(np.quantile(score[close], 1 - share)) if close.any() else 1.0
            left = score >= cut
            embedded = len(set(a[left]) | set(b[left]))
            print(
                f"{name:<10} {cost:>13} {100 * share:>23.1f}% {cut:>9.4f} {100 * left.mean():>9.1f}% "
                f"{100 * embedded / len(texts):>26.1f}%"
            )


if __name__ == "__main__":
    main()
