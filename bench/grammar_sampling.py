"""The embedded model's two ways to sample a structured answer, on the demo's own requests: the
product's (the grammar checked last, as llama.cpp's server does) and llama-cpp-python's (the
grammar applied to the whole vocabulary before every token). Each request runs both ways, in turn
first, at its full max_tokens with the same seed: what each costs per token and what comes out
(answers cut at max_tokens, answers that are not JSON).

    .venv/bin/python bench/demo_time.py --json /tmp/demo-calls.json   # the requests, from a demo run
    .venv/bin/python bench/grammar_sampling.py /tmp/demo-calls.json [--flow answer] [--calls 30] [--seeds 1] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WAYS = ("grammar last (the product)", "grammar first (llama-cpp-python)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calls_json", help="a bench/demo_time.py --json file")
    parser.add_argument("--flow", help="only the requests of this flow (answer, judge, refinement...)")
    parser.add_argument("--calls", type=int, default=30, help="structured requests replayed, at most")
    parser.add_argument("--seeds", type=int, default=1, help="times each request runs both ways, each with its own seed")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the product's, one per CPU)")
    args = parser.parse_args()
    import llama_cpp.llama_cpp as lib
    from llama_cpp import Llama

    from agents.models.local import shared_engine

    made = json.loads(Path(args.calls_json).read_text())
    chosen = [c["kwargs"] for c in made if c["grammar"] and args.flow in (None, c["step"])][: args.calls]
    requests = [(seed, request) for request in chosen for seed in range(args.seeds)]
    llama = shared_engine()._model()
    if args.threads:
        lib.llama_set_n_threads(llama._ctx.ctx, args.threads, args.threads)
    sampling: dict[str, float] = defaultdict(float)
    original = Llama.sample

    def sample(self: Any, *a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            sampling["now"] += time.perf_counter() - start

    Llama.sample = sample  # type: ignore[method-assign]
    sums: dict[str, float] = defaultdict(float)
    for index, (seed, request) in enumerate(requests):
        for way in WAYS if index % 2 == 0 else WAYS[::-1]:
            if way.startswith("grammar first"):
                llama._init_sampler = types.MethodType(Llama._init_sampler, llama)
            sampling["now"] = 0.0
            before = lib.llama_perf_context(llama._ctx.ctx).t_eval_ms
            try:
                response = llama.create_chat_completion(**request, seed=seed)
            finally:
                llama.__dict__.pop("_init_sampler", None)
            choice = response["choices"][0]
            sums[f"{way}:tokens"] += response["usage"]["completion_tokens"]
            sums[f"{way}:decode"] += (lib.llama_perf_context(llama._ctx.ctx).t_eval_ms - before) / 1000
            sums[f"{way}:sample"] += sampling["now"]
            sums[f"{way}:cut"] += choice["finish_reason"] == "length"
            try:
                json.loads(choice["message"]["content"], strict=False)
            except json.JSONDecodeError:
                sums[f"{way}:not_json"] += choice["finish_reason"] != "length"
    print(f"{len(chosen)} structured requests of the demo x {args.seeds} seeds, each both ways at its max_tokens\n")
    print(f"{'':34} {'tokens':>7} {'cut':>4} {'not JSON':>8} {'decode ms/tok':>13} {'sampling ms/tok':>15}")
    for way in WAYS:
        tokens = max(1.0, sums[f"{way}:tokens"])
        print(f"{way:34} {sums[f'{way}:tokens']:7.0f} {sums[f'{way}:cut']:4.0f} {sums[f'{way}:not_json']:8.0f} "
              f"{1000 * sums[f'{way}:decode'] / tokens:13.1f} {1000 * sums[f'{way}:sample'] / tokens:15.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
