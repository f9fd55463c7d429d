"""The code index: every function, class and method of the code seeds in a persistent Chroma
collection, embedded by the bundled MiniLM (no download), searched by meaning.

Rebuilding is incremental: each chunk carries its file's content hash, so an unchanged file is
not embedded again, a changed file's chunks are replaced, and a deleted file's are removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel

from retrieval.code_chunks import CodeChunk, chunk_code, language_of
from retrieval.seeds import read_text_file
from retrieval.sources import code_files

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


class CodeDocument(BaseModel):
    """What the index holds code of: a file (key: its resolved path) or a code row (key: file#row=N)."""

    key: str
    text: str
    language: str


def file_name(path: str) -> str:
    """A code file as a prompt names it: `units.py` for `/home/me/corpus/units.py`. The path would
    tell the model where the user keeps the corpus, and make the same seeds give other prompts
    (other records, other cache keys) from another folder."""
    return PurePath(path).name or path


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
    def short_location(self) -> str:
        """`units.py:12`: where a model is told the code is (`file_name`)."""
        return f"{file_name(self.path)}:{self.start_line}"

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
        documents = [CodeDocument(key=str(f.resolve()), text=read_text_file(f), language=language_of(f.suffix) or "text")
                     for f in files]  # fmt: skip
        return self.build_documents(documents, lambda key: Path(key) == root or root in Path(key).parents, progress)

    def build_documents(
        self, documents: list[CodeDocument], in_scope: Callable[[str], bool] | None = None, progress: Progress | None = None
    ) -> BuildStats:
        """Index these documents (files, or code rows of a table): embed new and changed ones only;
        drop the indexed documents that `in_scope` claims and that are not among them."""
        indexed = self.indexed_files()
        stats = BuildStats(files=len(documents))
        current = {d.key: d for d in documents}
        gone = [key for key in indexed if key not in current and in_scope is not None and in_scope(key)]
        for key in gone:
            self._collection.delete(where={"path": key})
        stats.removed_files = len(gone)

        pending: list[tuple[CodeChunk, str]] = []
        for key, document in current.items():
            digest = file_hash(document.text)
            if indexed.get(key) == digest:
                stats.unchanged += 1
                continue
            if key in indexed:
                self._collection.delete(where={"path": key})
            chunks = chunk_code(key, document.text, document.language) if document.text.strip() else []
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
