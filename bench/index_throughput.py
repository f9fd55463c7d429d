"""Code-index build throughput next to sentence-transformers encoding the same texts directly,
measured in one run (the model is loaded and warmed first, so neither side pays for it):

    .venv/bin/python bench/index_throughput.py [--seeds DIR] [--repeat 3]

The default seeds are this repository's own Python code (agents/, teams/, retrieval/, tests/),
a few hundred functions, classes and methods. The index side includes chunking with `ast`,
hashing and Chroma's writes; the direct side is only `SentenceTransformer.encode`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retrieval.code_chunks import chunk_code, language_of  # noqa: E402
from retrieval.code_index import EMBED_BATCH, CodeIndex, _document  # noqa: E402
from retrieval.embedding import reference_model  # noqa: E402
from retrieval.seeds import read_text_file  # noqa: E402
from retrieval.sources import code_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seeds", type=Path, nargs="*", default=[REPO / d for d in ("agents", "teams", "retrieval", "tests")]
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed builds per side; the best is reported")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="index-bench-"))
    tree = work / "tree"
    for folder in args.seeds:  # one tree, so one build covers every folder
        shutil.copytree(folder, tree / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    texts = [
        _document(chunk)
        for file in code_files(tree)
        for chunk in chunk_code(str(file), read_text_file(file), language_of(file.suffix) or "text")
    ]
    model = reference_model()
    model.encode(texts[:EMBED_BATCH], batch_size=EMBED_BATCH)  # warm up

    index_times, direct_times = [], []
    for round_ in range(args.repeat):
        start = time.perf_counter()
        stats = CodeIndex(work / f"index{round_}").build(tree)
        index_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.encode(texts, batch_size=EMBED_BATCH, normalize_embeddings=True, show_progress_bar=False)
        direct_times.append(time.perf_counter() - start)
    assert stats.chunks_embedded == len(texts), (stats.chunks_embedded, len(texts))
    index_rate = len(texts) / min(index_times)
    direct_rate = len(texts) / min(direct_times)
    print(f"chunks (functions, classes, methods): {len(texts)} from {stats.files} files")
    print(
        f"index build (chunk + embed + Chroma): {index_rate:7.1f} chunks/s  (best of {args.repeat}: {min(index_times):.2f} s)"
    )
    print(
        f"sentence-transformers encode alone:   {direct_rate:7.1f} chunks/s  (best of {args.repeat}: {min(direct_times):.2f} s)"
    )
    print(f"ratio index/direct: {index_rate / direct_rate:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
