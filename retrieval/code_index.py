"""The code index: every function, class and method of the code seeds in a persistent Chroma
collection, embedded by the bundled MiniLM (no download), searched by meaning.

Rebuilding is incremental: each chunk carries its file's content hash, so an unchanged file is
not embedded again, a changed file's chunks are replaced, and a deleted file's are removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from retrieval.code_chunks import CodeChunk, chunk_code, language_of
from retrieval.seeds import code_files, read_text_file

DEFAULT_INDEX_DIR = Path(".agentinstruct") / "index"
COLLECTION = "code"
EMBED_BATCH = 64

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


class CodeIndexError(ValueError):
    """An index folder that cannot be used: one line for the user."""


class BuildStats(BaseModel):
    files: int = 0
    unchanged: int = 0
    embedded_files: int = 0
    removed_files: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0


class Hit(BaseModel):
    """One search result: which code, where, how far from the query (cosine distance, 0 = same)."""

    name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    distance: float
    text: str

    @property
    def location(self) -> str:
        try:
            shown = str(Path(self.path).relative_to(Path.cwd()))
        except ValueError:
            shown = self.path
        return f"{shown}:{self.start_line}"


def file_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _document(chunk: CodeChunk) -> str:
    """What is embedded: the kind and qualified name (so a query by name finds it), then the code."""
    return f"{chunk.kind} {chunk.name}\n{chunk.text}"


class CodeIndex:
    """A Chroma collection of code chunks at `path` (created on first use)."""

    def __init__(self, path: Path, embedding_function: Any = None):
        import chromadb

        from retrieval.embedding import BundledEmbeddingFunction

        if path.exists() and not path.is_dir():
            raise CodeIndexError(f"{path}: index path exists and is not a folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path))
            self._collection = self._client.get_or_create_collection(
                COLLECTION,
                embedding_function=embedding_function or BundledEmbeddingFunction(),  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
        except CodeIndexError:
            raise
        except Exception as exc:  # a corrupt or foreign folder: Chroma's own error, on one line
            raise CodeIndexError(f"{path}: cannot open the code index: {exc}") from None
        self.path = path

    def count(self) -> int:
        return int(self._collection.count())

    def indexed_files(self) -> dict[str, str]:
        """path -> content hash of every file in the index."""
        got = self._collection.get(include=["metadatas"])
        return {str(m["path"]): str(m["file_hash"]) for m in got["metadatas"] or []}

    def build(self, seeds: Path, progress: Progress | None = None) -> BuildStats:
        """Index every code file under `seeds`: embed new and changed files only, drop the chunks
        of files that were under `seeds` and are gone."""
        files = code_files(seeds)
        root = seeds.resolve()
        indexed = self.indexed_files()
        stats = BuildStats(files=len(files))
        current = {str(f.resolve()): f for f in files}
        gone = [p for p in indexed if p not in current and (Path(p) == root or root in Path(p).parents)]
        for path in gone:
            self._collection.delete(where={"path": path})
        stats.removed_files = len(gone)

        pending: list[tuple[CodeChunk, str]] = []
        for path, file in current.items():
            text = read_text_file(file)
            digest = file_hash(text)
            if indexed.get(path) == digest:
                stats.unchanged += 1
                continue
            if path in indexed:
                self._collection.delete(where={"path": path})
            chunks = chunk_code(path, text, language_of(file.suffix) or "text") if text.strip() else []
            pending.extend((chunk, digest) for chunk in chunks)
            stats.embedded_files += 1

        # Similar lengths in a batch: less padding for the encoder (as encode() itself sorts).
        pending.sort(key=lambda item: len(_document(item[0])))
        if progress:
            progress(0, len(pending))
        for start in range(0, len(pending), EMBED_BATCH):
            batch = pending[start : start + EMBED_BATCH]
            self._collection.add(
                ids=[f"{c.path}#{c.start_line}-{c.end_line}#{c.name}" for c, _ in batch],
                documents=[_document(c) for c, _ in batch],
                metadatas=[
                    {
                        "path": c.path,
                        "name": c.name,
                        "kind": c.kind,
                        "language": c.language,
                        "start_line": c.start_line,
                        "end_line": c.end_line,
                        "file_hash": digest,
                    }
                    for c, digest in batch
                ],  # fmt: skip
            )
            stats.chunks_embedded += len(batch)
            if progress:
                progress(stats.chunks_embedded, len(pending))
        stats.chunks_total = self.count()
        return stats

    def query(self, text: str, k: int = 5) -> list[Hit]:
        """The k chunks nearest in meaning to `text`, nearest first."""
        total = self.count()
        if total == 0 or not text.strip():
            return []
        got = self._collection.query(
            query_texts=[text], n_results=min(k, total), include=["metadatas", "documents", "distances"]
        )
        metadatas = (got["metadatas"] or [[]])[0]
        documents = (got["documents"] or [[]])[0]
        distances = (got["distances"] or [[]])[0]
        return [
            Hit(
                name=str(m["name"]),
                kind=str(m["kind"]),
                path=str(m["path"]),
                start_line=int(str(m["start_line"])),
                end_line=int(str(m["end_line"])),
                distance=float(d),
                text=doc.split("\n", 1)[-1],
            )  # fmt: skip
            for m, doc, d in zip(metadatas, documents, distances, strict=True)
        ]
