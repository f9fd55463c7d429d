"""Where the demo's wall time goes: the demo (`make demo`'s command) runs in this process with the
embedded model's calls timed from outside the product (its engine, llama-cpp-python's sampler and
grammar builder, the checks and the quality gate are wrapped here, never in the product), then a
sample of its structured calls is replayed three ways: as the product samples, with
llama-cpp-python's own grammar sampling, and without the grammar.

    .venv/bin/python bench/demo_time.py [--max-seeds 2] [--config examples/demo.yaml] [--replay 8] [--threads N]

Prints: the wall split into start-up (imports), model load, model calls (prompt evaluation, token
decoding, sampling with its grammar, grammar building, the rest of each call) and the time no model
call was running (Python, AutoGen, checks, quality gate with its embeddings); then the tokens spent
per step (prompt tokens evaluated against those sent, completion tokens against max_tokens, calls
cut at max_tokens, tokens of failed attempts); then the grammar's cost from the replay. `--threads`
sets llama.cpp's threads after the model loads (to compare with the product's one per CPU).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import contextvars  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

STEP: contextvars.ContextVar[str] = contextvars.ContextVar("step", default="other")
timers: dict[str, float] = defaultdict(float)  # seconds by what was timed
calls: list[dict[str, Any]] = []  # one per model call
current: dict[str, float] = defaultdict(float)  # the running call's sampling and grammar seconds
spans: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (start, end) of model calls and gate reviews


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            end = time.perf_counter()
            timers[name] += end - start
            current[name] += end - start
            if name == "quality_gate":
                spans[name].append((start, end))

    return wrapper


def instrument(threads: int | None) -> None:
    """Wrap the engine, the sampler and grammar builder, the steps, checks and quality gate."""
    import llama_cpp.llama as llama_module
    import llama_cpp.llama_chat_format as chat_format
    import llama_cpp.llama_cpp as lib

    import retrieval.embedding
    import teams.flows.runtime as runtime
    from agents.models.local import LocalEngine
    from teams.engine.quality import QualityGate

    llama_module.Llama.sample = timed("sample", llama_module.Llama.sample)  # type: ignore[method-assign]
    llama_module.Llama._init_sampler = timed("sampler_init", llama_module.Llama._init_sampler)  # type: ignore[method-assign]
    grammar_for = chat_format._grammar_for_response_format
    chat_format._grammar_for_response_format = timed("grammar_build", grammar_for)
    runtime.check_draft = timed("checks", runtime.check_draft)
    runtime.check_answer = timed("checks", runtime.check_answer)
    QualityGate.admit = timed("quality_gate", QualityGate.admit)  # type: ignore[method-assign]
    retrieval.embedding.embed_matrix = timed("embedding", retrieval.embedding.embed_matrix)
    model_of = LocalEngine._model

    def load(self: LocalEngine) -> Any:
        if self._llama is None:
            start = time.perf_counter()
            llama = model_of(self)
            if threads:
                lib.llama_set_n_threads(llama._ctx.ctx, threads, threads)
            timers["model_load"] += time.perf_counter() - start
        return self._llama

    def complete(self: LocalEngine, **kwargs: Any) -> dict[str, Any]:
        asked = time.perf_counter()
        with self._lock:
            llama = load(self)
            current.clear()
            before = lib.llama_perf_context(llama._ctx.ctx)
            before = (before.t_p_eval_ms, before.n_p_eval, before.t_eval_ms, before.n_eval)
            start = time.perf_counter()
            response = llama.create_chat_completion(**kwargs)
            busy = time.perf_counter() - start
            spans["model"].append((start, start + busy))
            after = lib.llama_perf_context(llama._ctx.ctx)
        usage, choice = response["usage"], response["choices"][0]
        calls.append({
            "step": STEP.get(), "kwargs": kwargs, "grammar": "response_format" in kwargs,
            "max_tokens": kwargs.get("max_tokens"), "finish": choice.get("finish_reason"),
            "prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
            "waited": start - asked, "busy": busy,
            "prompt_eval": (after.t_p_eval_ms - before[0]) / 1000, "prompt_evaluated": after.n_p_eval - before[1],
            "decode": (after.t_eval_ms - before[2]) / 1000, "decoded": after.n_eval - before[3],
            "sample": current["sample"], "sampler_init": current["sampler_init"],
            "grammar_build": current["grammar_build"], "resampled": getattr(llama._sampler, "resampled", 0),
        })  # fmt: skip
        return response

    LocalEngine.complete = complete  # type: ignore[method-assign]
    stream_into = runtime.stream_into

    async def stepped(runnable: Any, task: str, transcript: Any) -> list[Any]:
        token = STEP.set(transcript.flow)
        try:
            return await stream_into(runnable, task, transcript)
        finally:
            STEP.reset(token)

    runtime.stream_into = stepped


def run_demo(args: argparse.Namespace, run_id: str) -> int:
    from teams.cli.app import run_app

    sys.argv = ["agentinstruct", "run", "reading_comprehension", "--seeds", args.seeds, "--max-seeds", args.max_seeds,
                "--config", args.config, "--out", args.out, "--run-id", run_id]  # fmt: skip
    try:
        run_app()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def failed_attempt_tokens(folder: Path) -> tuple[int, int]:
    """The run's tokens, and those not spent in an attempt whose answer was used (invalid answers;
    errors, whose calls a transcript may not count, such as a reply cut at max_tokens)."""
    total = json.loads((folder / "run.json").read_text())["totals"]["model_tokens"]
    used = 0
    for transcript in (folder / "transcripts").glob("*.json"):
        for team in json.loads(transcript.read_text())["teams"]:
            if team["status"] == "ok":
                used += sum(m["prompt_tokens"] + m["completion_tokens"] for m in team["messages"])
    return total, total - used


VARIANTS = ("as the product samples", "grammar first (llama-cpp-python)", "no grammar")


def replay_grammar(sample: list[dict[str, Any]]) -> dict[str, float]:
    """Each call again three ways (each in turn first): as the product samples, as llama-cpp-python
    does (the grammar applied to every token of the vocabulary first), and without the grammar; all cut at the completion tokens the run's call gave, so each decodes about as many."""
    import types

    from llama_cpp import Llama

    from agents.models.local import shared_engine

    engine = shared_engine()
    llama = engine._model()
    sums: dict[str, float] = defaultdict(float)
    for index, call in enumerate(sample):
        kwargs = dict(call["kwargs"], max_tokens=max(1, call["completion_tokens"]))
        bare = {k: v for k, v in kwargs.items() if k != "response_format"}
        runs = list(zip(VARIANTS, (kwargs, kwargs, bare), strict=True))
        for label, request in runs[index % 3 :] + runs[: index % 3]:
            if label.startswith("grammar first"):
                llama._init_sampler = types.MethodType(Llama._init_sampler, llama)
            count = len(calls)
            try:
                engine.complete(**request)
            finally:
                llama.__dict__.pop("_init_sampler", None)
            made = calls.pop(count)
            sums[f"{label}:decode"] += made["decode"]
            sums[f"{label}:sample"] += made["sample"] + made["sampler_init"] + made["grammar_build"]
            sums[f"{label}:tokens"] += made["decoded"]
    return sums


def overlap(these: list[tuple[float, float]], those: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, d) - max(a, c)) for a, b in these for c, d in those)


def ms_per(seconds: float, count: float) -> str:
    return f"{1000 * seconds / count:.1f}" if count else "-"


def report(wall: float, imports: float, folder: Path, code: int, sums: dict[str, float] | None) -> None:
    busy = sum(c["busy"] for c in calls)
    parts = {k: sum(c[k] for c in calls) for k in ("prompt_eval", "decode", "sample", "sampler_init", "grammar_build")}
    load = timers["model_load"]
    idle = wall - imports - load - busy
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    load_average = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"run {folder.name}: exit {code}, {len(calls)} model calls, wall {wall:.1f} s, "
          f"process CPU {cpu.ru_utime + cpu.ru_stime:.1f} s, load average now {load_average} on {os.cpu_count()} CPUs\n")  # fmt: skip
    rows = [
        ("start-up: imports (python, AutoGen, torch...)", imports),
        ("model load (llama_cpp import, GGUF)", load),
        ("model calls (engine busy, calls serialised)", busy),
        ("  prompt evaluation", parts["prompt_eval"]),
        ("  token decoding", parts["decode"]),
        ("  sampling (penalties, grammar, top-k/p)", parts["sample"]),
        ("  grammar build (schema -> GBNF -> sampler)", parts["grammar_build"] + parts["sampler_init"]),
        ("  rest of the call (template, tokenise, Python loop)", busy - sum(parts.values())),
        ("no model call running (Python, AutoGen, run folder)", idle),
        ("checks (on the event loop)", timers["checks"]),
        ("quality gate: dedup, near-dup (on the event loop)", timers["quality_gate"]),
        ("  of which MiniLM embedding (load + encode)", timers["embedding"]),
        ("  of which while a model call ran (both sharing the CPUs)", overlap(spans["quality_gate"], spans["model"])),
    ]
    print(f"{'where the wall time goes':56} {'seconds':>8} {'share':>6}")
    for name, seconds in rows:
        print(f"{name:56} {seconds:8.1f} {100 * seconds / wall:5.1f}%")
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        steps[call["step"]].append(call)
    print(f"\n{'flow':24} {'calls':>5} {'prompt':>7} {'evaluated':>9} {'completion':>10} {'max_tokens':>10} "
          f"{'cut':>4} {'tok/s':>6} {'seconds':>8}")  # fmt: skip
    for step, made in sorted(steps.items(), key=lambda item: -sum(c["busy"] for c in item[1])):
        decoded = sum(c["decoded"] for c in made)
        decode_s = sum(c["decode"] + c["sample"] for c in made)
        print(f"{step:24} {len(made):5} {sum(c['prompt_tokens'] for c in made):7} "
              f"{sum(c['prompt_evaluated'] for c in made):9} {sum(c['completion_tokens'] for c in made):10} "
              f"{sum(c['max_tokens'] or 0 for c in made):10} {sum(c['finish'] == 'length' for c in made):4} "
              f"{decoded / decode_s if decode_s else 0:6.1f} {sum(c['busy'] for c in made):8.1f}")  # fmt: skip
    total, wasted = failed_attempt_tokens(folder)
    decoded = sum(c["decoded"] for c in calls)
    evaluated = sum(c["prompt_evaluated"] for c in calls)
    print(f"\nper token: prompt evaluation {ms_per(parts['prompt_eval'], evaluated)} ms ({evaluated} tokens), "
          f"decoding {ms_per(parts['decode'], decoded)} ms + sampling {ms_per(parts['sample'], decoded)} ms "
          f"({decoded} tokens); tokens in failed attempts: {wasted} of {total}")  # fmt: skip
    if sums:
        print(f"\nsampling replay ({sums['calls']:.0f} structured calls of the run, each three ways, cut at its tokens):")
        per = {}
        for label in VARIANTS:
            tokens = sums[f"{label}:tokens"]
            per[label] = sums[f"{label}:sample"] / max(1, tokens)
            print(f"  {label:34} {tokens:5.0f} tokens: decoding {ms_per(sums[f'{label}:decode'], tokens)} ms/token, "
                  f"sampling + grammar build {ms_per(sums[f'{label}:sample'], tokens)} ms/token")  # fmt: skip
        structured = [c for c in calls if c["grammar"]]
        tokens = sum(c["decoded"] for c in structured)
        spent = sum(c["sample"] + c["sampler_init"] + c["grammar_build"] for c in structured)
        bare = per["no grammar"] * tokens
        first = per["grammar first (llama-cpp-python)"] * tokens
        resampled = sum(c["resampled"] for c in structured)
        print(f"  the grammar's cost in the run: {spent - bare:.1f} s of sampling over no grammar "
              f"({100 * (spent - bare) / wall:.1f}% of the wall; {resampled} of {tokens} tokens resampled under the grammar); "
              f"llama-cpp-python's way would have cost about {first - bare:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=str(REPO / "examples" / "seeds"))
    parser.add_argument("--max-seeds", default="2")
    parser.add_argument("--config", default=str(REPO / "examples" / "demo.yaml"), help="as make demo uses")
    parser.add_argument("--out", default="/tmp/agentinstruct-bench")
    parser.add_argument("--replay", type=int, default=8, help="structured calls replayed with and without grammar")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the product's, one per CPU)")
    parser.add_argument("--json", help="also write every call's figures and request here")
    args = parser.parse_args()
    import teams.cli.app  # noqa: F401  the command's imports, as `agentinstruct run` makes them
    import teams.engine.loop  # noqa: F401

    imports = time.perf_counter() - STARTED
    instrument(args.threads)
    run_id = f"demo-time-{time.strftime('%Y%m%d-%H%M%S')}"
    code = run_demo(args, run_id)
    wall = time.perf_counter() - STARTED
    run_calls = list(calls)
    structured = [c for c in run_calls if c["grammar"] and c["completion_tokens"] > 1]
    sample = structured[:: max(1, len(structured) // args.replay)][: args.replay] if args.replay else []
    sums = replay_grammar(sample) if sample else None
    if sums is not None:
        sums["calls"] = len(sample)
    calls[:] = run_calls
    report(wall, imports, Path(args.out) / run_id, code, sums)
    if args.json:
        Path(args.json).write_text(json.dumps(calls, indent=1))  # with each call's request


if __name__ == "__main__":
    main()
