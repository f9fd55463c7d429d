"""Grammar-constrained sampling the way llama.cpp's own server does it: sample as if there were no
grammar, then check only the chosen token against the grammar; only when it does not fit, apply
the grammar to the whole vocabulary and sample again (common_sampler_sample in llama.cpp's
common/sampling.cpp).

llama-cpp-python puts the grammar first in its sampler chain instead, so every token of a
structured answer checks all 49,152 tokens of SmolLM2's vocabulary against the grammar: that cost
about as much as decoding the token itself (bench/demo_time.py). The output still always fits the
grammar; which valid token is drawn can differ, as on llama.cpp's server.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Any

import numpy as np

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class GrammarLastSampler:
    """Stands in for llama-cpp-python's sampler chain (its `sample(ctx, idx)`) when a call has a
    grammar: `chain` is the call's chain built without the grammar, `grammar` a sampler of the
    grammar alone. Both are llama_cpp._internals.LlamaSampler objects, kept alive here."""

    def __init__(self, chain: Any, grammar: Any, n_vocab: int):
        import llama_cpp.llama_cpp as lib

        self._lib = lib
        self.chain, self.grammar = chain, grammar
        self.n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._pointer = self._data.ctypes.data_as(lib.llama_token_data_p)
        self.resampled = 0  # tokens the grammar sent back, for the benchmark

    def _candidates(self, ctx: Any, idx: int) -> Any:
        """Every token with the logits of output `idx`, as llama.cpp's samplers take them."""
        logits = self._lib.llama_get_logits_ith(ctx.ctx, idx)
        self._data["id"] = self._ids
        self._data["logit"] = np.ctypeslib.as_array(logits, shape=(self.n_vocab,))
        self._data["p"] = 0.0
        return self._lib.llama_token_data_array(data=self._pointer, size=self.n_vocab, selected=-1, sorted=False)

    def _fits(self, token: int) -> bool:
        one = self._lib.llama_token_data(token, 1.0, 0.0)
        single = self._lib.llama_token_data_array(data=ctypes.pointer(one), size=1, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self.grammar.sampler, ctypes.byref(single))
        return bool(np.isfinite(one.logit))

    def _draw(self, candidates: Any) -> int:
        self._lib.llama_sampler_apply(self.chain.sampler, ctypes.byref(candidates))
        if candidates.selected < 0:
            raise RuntimeError("llama.cpp's sampler chain selected no token")
        return int(candidates.data[candidates.selected].id)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        token = self._draw(self._candidates(ctx, idx))
        if not self._fits(token):
            self.resampled += 1
            candidates = self._candidates(ctx, idx)
            self._lib.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
            token = self._draw(candidates)
        self._lib.llama_sampler_accept(self.chain.sampler, token)
        self._lib.llama_sampler_accept(self.grammar.sampler, token)
        return token


@lru_cache(maxsize=1)
def grammar_last_llama() -> type:
    """llama_cpp.Llama with its grammar checked last (a subclass, made on first use: llama_cpp is
    imported only when the embedded model is)."""
    from llama_cpp import Llama
    from llama_cpp._internals import LlamaSampler

    class GrammarLastLlama(Llama):
        def _init_sampler(self, **kwargs: Any) -> Any:  # type: ignore[override]  # always called by name
            grammar = kwargs.pop("grammar", None)
            chain = super()._init_sampler(**kwargs)
            if grammar is None:
                return chain
            alone = LlamaSampler()
            alone.add_grammar(self._model, grammar)
            return GrammarLastSampler(chain, alone, self._n_vocab)

    return GrammarLastLlama
