"""How fast seeds are read, and how much memory reading takes, from the formats corpora come in:

    .venv/bin/python bench/seed_reading.py [--rows 100000] [--pdfs 20] [--pages 5]

It writes (to a temp folder) a Parquet file of `--rows` distinct passages of 300-900 characters
in row groups of 10,000 rows, and a folder of `--pdfs` PDFs of `--pages` pages each (fpdf2),
then reports seeds per second for each (reading, converting, chunking, hashing: what
`agentinstruct run` does before its first model call) and the peak resident memory of a fresh
process reading the Parquet file with `--max-seeds 100` and without, beside one that only
imports the readers (the baseline every run pays).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = ["tide", "harbour", "glacier", "survey", "ferry", "lighthouse", "market", "river", "delta", "basalt", "orchard", "hive", "nectar", "council", "budget", "bridge", "station", "rainfall", "archive", "ledger", "engine", "signal", "meadow", "quarry"]  # fmt: skip


def passage(rng: random.Random, number: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(50, 150))]
    return f"Record {number}: " + " ".join(words).capitalize() + "."


def make_parquet(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(0)
    table = pa.table({"text": [passage(rng, i) for i in range(rows)], "doc_id": [f"doc-{i}" for i in range(rows)]})
    pq.write_table(table, path, row_group_size=10_000)


def make_pdfs(folder: Path, count: int, pages: int) -> None:
    from fpdf import FPDF

    rng = random.Random(1)
    folder.mkdir()
    for n in range(count):
        pdf = FPDF()
        pdf.set_font("helvetica", size=11)
        for page in range(pages):
            pdf.add_page()
            for paragraph in range(4):
                pdf.multi_cell(0, 6, passage(rng, n * 1000 + page * 10 + paragraph))
                pdf.ln(4)
        pdf.output(str(folder / f"report_{n:02d}.pdf"))


def timed(source: Path, **fields: object) -> tuple[int, float]:
    from retrieval.seeds import SeedOptions
    from retrieval.sources import read_seeds

    started = time.perf_counter()
    seeds = read_seeds(source, "text", SeedOptions(**fields)).seeds  # type: ignore[arg-type]
    return len(seeds), time.perf_counter() - started


def child(source: str, max_seeds: str) -> None:
    """A fresh process: read (or, with source '-', only import), then print the peak RSS in MiB."""
    import pyarrow.parquet  # noqa: F401

    import retrieval.sources  # noqa: F401

    count = 0
    if source != "-":
        count, _ = timed(Path(source), max_seeds=None if max_seeds == "none" else int(max_seeds))
    print(count, peak_mib())


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak(source: str, max_seeds: str) -> tuple[int, float]:
    out = subprocess.run([sys.executable, __file__, "--child", source, max_seeds], capture_output=True, text=True, check=True)
    count, mib = out.stdout.split()
    return int(count), float(mib)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pdfs", type=int, default=20)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="seed-bench-"))
    try:
        table = work / "corpus.parquet"
        make_parquet(table, args.rows)
        make_pdfs(work / "pdfs", args.pdfs, args.pages)
        print(f"parquet: {args.rows:,} rows, {table.stat().st_size / 2**20:.1f} MiB; pdfs: {args.pdfs} x {args.pages} pages")
        count, seconds = timed(table, id_field="doc_id")
        print(f"parquet       {count:>8,} seeds in {seconds:6.2f} s = {count / seconds:>9,.0f} seeds/s")
        count, seconds = timed(table, max_seeds=100)
        print(f"parquet, --max-seeds 100: {count} seeds in {seconds * 1000:.0f} ms")
        count, seconds = timed(work / "pdfs")
        print(f"pdf folder    {count:>8,} seeds in {seconds:6.2f} s = {count / seconds:>9,.1f} seeds/s "
              f"({args.pdfs * args.pages / seconds:.1f} pages/s)")  # fmt: skip
        _, base = peak("-", "none")
        few, capped = peak(str(table), "100")
        every, whole = peak(str(table), "none")
        print(f"peak RSS: imports only {base:.0f} MiB; --max-seeds 100 ({few} seeds) {capped:.0f} MiB; "
              f"every row ({every:,} seeds) {whole:.0f} MiB")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
