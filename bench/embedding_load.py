"""How long a process takes to load the bundled MiniLM (`retrieval.embedding.load_model`): the
first time on a machine, when the graph is traced through sentence-transformers and kept in the
cache, and afterwards, when the cached graph loads with torch and tokenizers alone. Each load runs
in a fresh process (imports included, as a run pays them), against an empty cache of its own.

    /path/to/python bench/embedding_load.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOAD = "from retrieval.embedding import load_model; load_model()"


def timed_load(cache: Path) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", LOAD], cwd=REPO, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="loads of each kind; every one is printed")
    args = parser.parse_args()
    first, cached = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="agentinstruct-load-") as cache:
            first.append(timed_load(Path(cache)))  # traced, then kept
            cached.append(timed_load(Path(cache)))  # from the cache
    print("wall seconds, a fresh process each")
    print(f"first load on a machine (traced through sentence-transformers): {', '.join(f'{t:.1f}' for t in first)}")
    print(f"later loads (the cached graph, torch and tokenizers alone):     {', '.join(f'{t:.1f}' for t in cached)}")


if __name__ == "__main__":
    main()
