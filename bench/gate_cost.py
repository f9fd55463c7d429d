"""CPU the quality gate (exact and near-duplicate search) spends per record, replaying the records
a finished run showed it: each seed's kept records and its duplicates, seed by seed in commit order
(within a seed, by id), through a fresh `QualityGate` in this process.

    /path/to/python bench/gate_cost.py RUN_FOLDER [--seeds 40] [--threads 1] [--ahead] [--profile]

RUN_FOLDER is e.g. one of `bench/throughput.py`'s defaults-on runs (its work folder is printed
first; runs/c128dtemplate, runs/c128dvaried). `--threads` sets torch's threads (the gate uses 1).
`--ahead` embeds each seed's texts ahead first, as a run does (`QualityGate.embed_ahead`, here in
the same thread), so the CPU is all a run's gate spends. Also prints MiniLM's share: the texts
embedded as instructions and as passages, and the CPU each took.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def batches(run: Path) -> list[list[dict[str, Any]]]:
    """Each committed seed's records as the gate saw them (what the judge and checks dropped never reached it)."""
    seeds = [json.loads(line)["id"] for line in (run / "seeds.jsonl").read_text(encoding="utf-8").splitlines()]
    by_seed: dict[str, list[dict[str, Any]]] = {}
    for name in ("records.jsonl", "dropped.jsonl"):
        for line in (run / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            dropped = record["meta"].pop("dropped", None)
            if dropped is None or dropped["by"] in ("duplicate", "near_duplicate"):
                by_seed.setdefault(record["meta"]["seed_id"], []).append(record)
    return [sorted(by_seed.get(seed, []), key=lambda r: r["id"]) for seed in seeds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the gate's own setting)")
    parser.add_argument("--ahead", action="store_true", help="embed each seed's texts ahead, as a run does")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    import retrieval.embedding as embedding
    import teams.engine.near_duplicates as near_duplicates
    import teams.engine.quality as quality
    from teams.runfolder import RunFolder

    minilm = {"instruction": [0, 0.0], "passage": [0, 0.0]}  # texts, CPU seconds
    encode = embedding.embed_matrix

    def timed_encode(texts: list[str], batch_size: int = 64, threads: int | None = None) -> Any:
        start = time.process_time()
        try:
            return encode(texts, batch_size, threads)
        finally:  # the index embeds passages in batches of their own size
            kind = minilm["passage" if batch_size == near_duplicates.PASSAGE_BATCH else "instruction"]
            kind[0] += len(texts)
            kind[1] += time.process_time() - start

    embedding.embed_matrix = timed_encode

    if args.threads:
        near_duplicates.EMBEDDING_THREADS = args.threads
    seeds = batches(args.run)[: args.seeds]
    records = sum(len(b) for b in seeds)
    gate = quality.QualityGate(quality.QualitySettings()).open(RunFolder.create(Path(tempfile.mkdtemp()), "replay"))
    import cProfile

    profile = cProfile.Profile()
    if args.profile:
        profile.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    near = sum(
        1
        for batch in seeds
        for v in gate.review(batch, gate.index.embed_ahead(batch) if args.ahead and gate.index else None)
        if v and v[0] == "near_duplicate"
    )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if args.profile:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    assert gate.index is not None
    print(
        f"{len(seeds)} seeds, {records} records: {1000 * cpu / records:.2f} CPU ms per record "
        f"({1000 * wall / records:.2f} wall), {near} near duplicates, {gate.index.embedded} texts embedded "
        f"(torch threads: {near_duplicates.EMBEDDING_THREADS}{', embedded ahead' if args.ahead else ''})"
    )
    print(
        f"gate CPU {cpu:.1f} s, of which MiniLM {minilm['instruction'][1] + minilm['passage'][1]:.1f} s: "
        + ", ".join(
            f"{n} {kind}s at {1000 * seconds / max(n, 1):.1f} ms each ({seconds:.1f} s)"
            for kind, (n, seconds) in minilm.items()
        )
    )


if __name__ == "__main__":
    main()
