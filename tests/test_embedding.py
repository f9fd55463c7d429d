"""The bundled MiniLM as the run embeds with it: one traced graph per batch, the vectors that
sentence-transformers computes, and the GIL left to the other threads while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval import embedding
from tests.conftest import REPO

TEXTS = [
    "What is the main purpose of the passage?",
    "Which claim about default comparisons does the passage not support? Answer ____.",
    "a",
    "",
    "   surrounded by spaces   ",
    "Rewrite the question so that it needs two facts from the passage. " * 3,
    "word " * 600,  # longer than the model's 256 tokens: truncated as sentence-transformers truncates
    "Ünïcode, emoji 🙂 and punctuation: (x < y) != [z]?",
]


def test_the_traced_encoder_gives_the_vectors_sentence_transformers_gives() -> None:
    model = embedding.reference_model()
    for batch_size in (1, 3, 64):  # alone, padded batches of mixed lengths, all at once
        expected = model.encode(TEXTS, batch_size=batch_size, normalize_embeddings=True)
        found = embedding.embed_matrix(TEXTS, batch_size)
        assert found.shape == (len(TEXTS), embedding.DIMENSIONS) and found.dtype == np.float32
        assert np.abs(found - expected).max() < 1e-6, batch_size
    assert embedding.embed_texts([]) == []
    assert np.allclose(embedding.embed_texts(TEXTS[:2]), embedding.embed_matrix(TEXTS[:2]))


def _slowdown_beside_a_spinning_thread(encode: Callable[[], object]) -> float:
    """Wall time of `encode` while another thread runs pure Python, over its time alone."""
    encode()  # warm
    start = time.perf_counter()
    encode()
    alone = time.perf_counter() - start
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        start = time.perf_counter()
        encode()
        beside = time.perf_counter() - start
    finally:
        stop.set()
        spinner.join()
    return beside / alone


def test_an_encode_leaves_the_gil_to_the_event_loop_thread() -> None:
    """The run's gate embeds in a thread beside the busy event loop. Run eagerly, each torch op
    gives the GIL up and waits to take it back (the harness checks it sees that); the traced
    graph gives it up once per batch, so a busy thread beside it barely slows it (measured here:
    eager 14-16x its time alone, traced 1.5-1.7x, the rest being tokenization's Python)."""
    import torch

    model = embedding.reference_model()
    texts = [f"Question {i} about the passage and some of its words, {i * 7}" for i in range(48)]
    torch.set_num_threads(1)
    traced = _slowdown_beside_a_spinning_thread(lambda: embedding.embed_matrix(texts, 16))
    eager = _slowdown_beside_a_spinning_thread(lambda: model.encode(texts, batch_size=16))
    assert eager > 6, f"the eager encode was not slowed by the spinning thread ({eager:.1f}x): the harness sees nothing"
    assert traced < 4, f"the traced encode took {traced:.1f}x its time alone beside a busy thread (eager: {eager:.1f}x)"


def test_two_threads_encode_at_once_and_get_the_vectors_of_one_at_a_time(monkeypatch: Any) -> None:
    """A run's gate and embed-ahead threads both embed; each keeps a core busy only if neither
    waits for the other's encode. Each thread's first batch waits at a barrier inside the graph's
    call: with encodes taking turns, the second could never arrive and the barrier would break."""
    one_at_a_time = {name: embedding.embed_matrix(texts, 2) for name, texts in (("a", TEXTS), ("b", TEXTS[::-1]))}
    barrier = threading.Barrier(2, timeout=20)
    encoder = embedding._encoder
    met: list[str] = []

    def meeting(input_ids: Any, attention_mask: Any) -> Any:
        if threading.current_thread().name not in met:
            met.append(threading.current_thread().name)
            barrier.wait()  # raises BrokenBarrierError after 20 s alone
        return encoder(input_ids, attention_mask)

    monkeypatch.setattr(embedding, "_encoder", meeting)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def encode(name: str, texts: list[str]) -> None:
        try:
            for _ in range(5):  # many batches through the shared tokenizer at once: none fails
                results[name] = embedding.embed_matrix(texts, 2)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=encode, args=(n, t), name=n) for n, t in (("a", TEXTS), ("b", TEXTS[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(met) == ["a", "b"]
    for name, vectors in one_at_a_time.items():
        assert np.abs(results[name] - vectors).max() < 1e-6


LOAD_FROM_CACHE = """
import json, sys
from retrieval import embedding
vectors = embedding.embed_matrix(json.loads(sys.argv[1]), 3)
print(json.dumps({"vectors": vectors.tolist(), "imported": sorted(
    m for m in ("sentence_transformers", "transformers", "sklearn") if m in sys.modules)}))
"""


def _load_in_a_new_process(cache: Path) -> dict[str, Any]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", LOAD_FROM_CACHE, json.dumps(TEXTS)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_the_traced_graph_is_kept_in_the_cache_and_loads_without_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process traces the graph once and keeps it in the user's cache; the next one loads it
    with torch and tokenizers alone (sentence-transformers' imports took 8 of 11 s) and embeds
    exactly as the traced graph does. A torn cache file is traced again and replaced."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = embedding.graph_cache_path()
    assert path.is_relative_to(tmp_path) and not path.exists()
    expected = embedding.embed_matrix(TEXTS, 3)  # this process's graph, traced from sentence-transformers
    monkeypatch.setattr(embedding, "_encoder", None)
    assert np.abs(embedding.embed_matrix(TEXTS, 3) - expected).max() < 1e-6  # traced now, and kept
    assert path.is_file()

    loaded = _load_in_a_new_process(tmp_path)
    assert loaded["imported"] == []
    assert np.abs(np.asarray(loaded["vectors"], dtype=np.float32) - expected).max() < 1e-6

    path.write_bytes(path.read_bytes()[:4096])  # torn, as by a crash (it is written atomically)
    loaded = _load_in_a_new_process(tmp_path)
    assert "sentence_transformers" in loaded["imported"]  # traced again...
    assert path.stat().st_size > 4096  # ...and kept
    assert np.abs(np.asarray(loaded["vectors"], dtype=np.float32) - expected).max() < 1e-6
