"""Static embeddings derived from the bundled MiniLM: a vector per vocabulary token, so that a
text's vector is the normalised mean of its tokens' vectors (a table look-up, no model run).

The table is what model2vec's distillation starts from: every token of MiniLM's vocabulary run
through MiniLM alone (`[CLS] token [SEP]`) and mean-pooled as MiniLM pools a sentence, then the
table's mean vector taken off every row (the raw vectors share a large common part, so every two
texts came out alike: 0.9 or more for most pairs of questions on one passage). It is
built once per model (its files' hash names it) and kept in `~/.cache/agentinstruct/` (or
`$XDG_CACHE_HOME/agentinstruct/`); nothing is downloaded. Such vectors follow MiniLM's cosine
loosely: near-duplicate search uses them only to skip pairs that are far apart, and MiniLM still
decides every pair they let through.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from retrieval.embedding import bundled_model_dir, load_model

TABLE_VERSION = 2  # bump when the way the table is built changes
MAX_TOKENS = 254  # MiniLM reads 256 tokens, [CLS] and [SEP] included: a text's vector uses the same
_BUILD_BATCH = 1024


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentinstruct"


def model_digest(model_dir: Path) -> str:
    """The hash of the files the table depends on (weights, tokenizer, configuration)."""
    digest = hashlib.sha256(f"static-table-v{TABLE_VERSION}".encode())
    for name in ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            with path.open("rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def build_table() -> Any:
    """Every vocabulary token's vector: MiniLM's mean-pooled output for `[CLS] token [SEP]`, centred."""
    import numpy as np
    import torch

    model = load_model()
    transformer, tokenizer = model[0].auto_model, model.tokenizer
    size = len(tokenizer)
    table = np.empty((size, transformer.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, size, _BUILD_BATCH):
            ids = torch.arange(start, min(start + _BUILD_BATCH, size))
            cls = torch.full_like(ids, tokenizer.cls_token_id)
            sep = torch.full_like(ids, tokenizer.sep_token_id)
            inputs = torch.stack([cls, ids, sep], dim=1)
            hidden = transformer(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
            table[start : start + len(ids)] = hidden.mean(dim=1).numpy()
    return table - table.mean(axis=0)


class StaticEmbedder:
    """Texts to unit vectors through the table; safe to call from one thread at a time."""

    def __init__(self, table: Any, tokenizer: Any):
        import numpy as np

        self.table = table
        self.tokenizer = tokenizer
        self._fallback = np.ones(table.shape[1], dtype=np.float32) / np.sqrt(table.shape[1])

    def embed(self, texts: list[str]) -> Any:
        """One unit row per text (a text with no token gets a fixed vector, as MiniLM gives every empty text one)."""
        import numpy as np

        vectors = np.empty((len(texts), self.table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = encoding.ids[:MAX_TOKENS]
            if not ids:
                vectors[row] = self._fallback
                continue
            total = self.table[ids].sum(axis=0)
            norm = float(np.linalg.norm(total))
            vectors[row] = total / norm if norm > 0 else self._fallback
        return vectors


_embedder: StaticEmbedder | None = None
_guard = threading.Lock()


def load_static() -> StaticEmbedder:
    """The process's static embedder: its table read from the cache, or built (once, logged) and cached."""
    global _embedder
    with _guard:
        if _embedder is None:
            import numpy as np
            from tokenizers import Tokenizer

            model_dir = bundled_model_dir()
            path = cache_dir() / f"static-minilm-{model_digest(model_dir)}.npy"
            if not path.is_file():
                logger.info("building the static embedding table of the bundled MiniLM once, for {}", path)
                table = build_table()
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                with partial.open("wb") as file:
                    np.save(file, table)
                os.replace(partial, path)  # another process building it at once writes the same table
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _embedder = StaticEmbedder(np.load(path, mmap_mode="r"), tokenizer)
        return _embedder
