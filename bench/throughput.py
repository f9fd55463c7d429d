"""Throughput of the reading-comprehension pipeline against a fake OpenAI-compatible endpoint,
next to its ceiling: a bare asyncio loop of as many calls through the `openai` client, at the
same concurrency, measured in the same run. Also: peak memory, and resuming a finished run.

    /path/to/python bench/throughput.py [--latency 0.1] [--levels 1,16,64,128,256] [--workers 2] [--resume-seeds 1000]
                                        [--near-dedup] [--defaults-levels 64,128] [--defaults-questions template,varied]
                                        [--default-gc]

For each level C the pipeline runs 2*C seeds (4 at C=1) with C seeds in flight and the endpoint
limited to C requests in flight (`limits.max_in_flight`), first in one process, then (C > 1)
with `--workers W` processes sharing the same C seeds in flight and the same endpoint limit. The
bare loop then replays the very requests the one-process pipeline sent (recorded by the fake
server), C at a time, in one process. Each measurement runs in a fresh process (its CPU time and
peak RSS are its own; the workers' CPU is added to the driver's, their start-up left out as the
one-process run's imports are); the fake server runs in another process, which reports its own
CPU use so one can see it is not the bottleneck. Both run with the cyclic garbage collector set as
a run sets it (`teams.engine.process.collect_less`), or with `--default-gc` both with Python's defaults
(one-process rows only: worker processes set their own). The levels of `--defaults-levels` get
more one-process rows with the defaults a run has (judge and near-duplicate search on), one per
workload of `--defaults-questions`, each against the bare loop of its own requests. `template` is the tests' fake, which
writes one question template for every passage (nearly every record of a seed is then a near
duplicate of another, and near-duplicate search embeds nearly every instruction and edited
passage); `varied` writes varied questions from the passage's words (`bench/varied_fake.py`), as a
real model does. The other rows use the template fake. Prints one row per level and the issue's
goals with the measured figures. Under each row, the pipeline driver's CPU by thread
(`bench/thread_cpu.py`): the event loop's, and with near-duplicate search on, its threads', in all
and in each half of the run (shares of one core).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# --- the fake endpoint, in its own process -----------------------------------------------------

VARIED = "fake-varied"  # the model name whose questions vary (bench/varied_fake.py); else one template


def serve(latency: float) -> None:
    """Print the base URL, then answer on stdin: 'stats' with requests served and CPU seconds,
    'dump PATH' by writing the requests received since the last command to PATH (JSONL)."""
    from bench.varied_fake import varied_responder
    from tests.fake_openai import FakeOpenAIServer
    from tests.fakes import competent_responder

    def responder(request: dict[str, Any]) -> str:  # the model named picks the workload
        return varied_responder(request) if request.get("model") == VARIED else competent_responder(request)

    server = FakeOpenAIServer(responder, latency=latency).start()
    print(server.base_url, flush=True)
    for line in sys.stdin:
        command, _, path = line.strip().partition(" ")
        served = list(server.requests)
        server.requests.clear()  # counted, not kept: memory stays flat over long benchmarks
        if command == "dump":
            Path(path).write_text("".join(json.dumps(r) + "\n" for r in served), encoding="utf-8")
        print(json.dumps({"requests": len(served), "cpu": time.process_time()}), flush=True)
    server.close()


class Endpoint:
    def __init__(self, latency: float):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", "--latency", str(latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        self.total = 0

    def stats(self, dump: Path | None = None) -> dict[str, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"dump {dump}\n" if dump else "stats\n")
        self.process.stdin.flush()
        stats = json.loads(self.process.stdout.readline())
        self.total += stats["requests"]
        return stats

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --- one measurement, in its own process --------------------------------------------------------


def _usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": me.ru_utime + me.ru_stime, "peak_rss_mib": me.ru_maxrss / 1024}


def passages() -> list[str]:
    """Distinct paragraphs of real prose (the Python reference's help topics, in the standard
    library): seeds alike only as real documents are, so near-duplicate search has the work a
    run has, not a template's hundreds of look-alikes."""
    from pydoc_data.topics import topics

    found = (" ".join(p.split()) for text in topics.values() for p in text.split("\n\n"))
    return list(dict.fromkeys(p for p in found if 180 <= len(p) <= 2000))


def make_seeds(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    texts = passages()
    for i in range(count):
        text = texts[i % len(texts)]
        if i >= len(texts):  # past the distinct paragraphs (resume's 1,000 seeds): two joined
            text += " " + texts[(i * 7 + 3) % len(texts)]
        (folder / f"seed{i:05d}.txt").write_text(f"Note {i}. {text}", encoding="utf-8")
    return folder


def default_gc() -> bool:
    return os.environ.get("BENCH_GC") == "default"


def measure_pipeline(
    base_url: str, seeds: Path, out: Path, concurrency: int, run_id: str, near_dedup: bool, workers: int = 1,
    varied: bool = False,
) -> dict[str, Any]:
    import autogen_agentchat.teams  # noqa: F401  (imports are not the calls' cost)
    import autogen_ext.models.openai  # noqa: F401
    import diskcache  # noqa: F401

    import teams.engine.loop
    from agents.models import ModelSpec
    from agents.models.limits import EndpointLimits
    from bench.thread_cpu import ThreadCpu, stat_cpu
    from teams.engine import PreparedRun, RunConfig, run_pipeline
    from teams.engine.quality import QualitySettings
    from teams.engine.workers import LocalWorkers

    if near_dedup:  # loaded before the clock too, as a run loads it before its first seed
        from retrieval.embedding import load_model

        load_model()

    spec = ModelSpec(model=VARIED if varied else "fake-model", base_url=base_url, limits=EndpointLimits(max_in_flight=concurrency))
    config = RunConfig(
        skill="reading_comprehension", seeds=seeds, out=out, run_id=run_id, concurrency=concurrency,
        workers=workers, models={"default": spec},
        # near-duplicate search embeds the first pass's candidates on this CPU (MiniLM): a cost per record, not per call
        quality=QualitySettings(near_duplicate_threshold=0.95 if near_dedup else 1.0),
    )  # fmt: skip
    from loguru import logger

    logger.remove()
    if default_gc():
        teams.engine.loop.collect_less = gc.get_threshold  # the run leaves Python's defaults alone
    run = PreparedRun(config)
    startup_cpu = 0.0
    processor = None
    if workers > 1:  # started (and ready) before the clock, as the one-process run's imports are
        processor = LocalWorkers(run, workers)
        processor.launch()
        processor.wait_ready()
        startup_cpu = sum(stat_cpu(f"/proc/{p.pid}/stat") for p in processor.processes)
    threads = ThreadCpu()
    start_cpu, start = _usage()["cpu"], time.perf_counter()
    threads.start()
    _, info = asyncio.run(run_pipeline(run, processor=processor))
    wall = time.perf_counter() - start
    threads.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, joined at the run's end
    workers_cpu = children.ru_utime + children.ru_stime - startup_cpu
    t = info.totals
    dropped: dict[str, int] = {}
    for line in (out / run_id / "dropped.jsonl").read_text(encoding="utf-8").splitlines():
        by = json.loads(line)["meta"]["dropped"]["by"]
        dropped[by] = dropped.get(by, 0) + 1
    return {
        "records": t.records, "dropped": dropped,
        "wall": wall, "seeds": t.seeds_done + t.seeds_failed, "calls": t.calls + t.cached_calls,
        "cpu": _usage()["cpu"] - start_cpu + workers_cpu, "status": info.status,
        # with workers: the driver's peak plus each worker at the largest one's peak
        "peak_rss_mib": _usage()["peak_rss_mib"] + (workers * children.ru_maxrss / 1024 if workers > 1 else 0),
        "threads": threads.report(),
    }  # fmt: skip


def measure_bare(base_url: str, requests_file: Path, concurrency: int) -> dict[str, Any]:
    """The ceiling: the very requests the pipeline sent, `concurrency` at a time, through
    AsyncOpenAI, each answer's JSON parsed: the calls without the agents around them."""
    import openai

    bodies = [json.loads(line) for line in requests_file.read_text(encoding="utf-8").splitlines()]
    calls = len(bodies)
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    remaining = iter(bodies)

    async def worker() -> None:
        for body in remaining:
            response = await client.chat.completions.create(**body)
            content = response.choices[0].message.content or ""
            if body.get("response_format"):
                json.loads(content)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await client.close()

    if not default_gc():
        from teams.engine.process import collect_less

        collect_less()
    start_cpu, start = _usage()["cpu"], time.perf_counter()
    asyncio.run(main())
    return {"wall": time.perf_counter() - start, "calls": calls, "cpu": _usage()["cpu"] - start_cpu,
            "peak_rss_mib": _usage()["peak_rss_mib"]}  # fmt: skip


def measure_layers(calls: int = 2000) -> float:
    """CPU milliseconds per call of agentinstruct's own layers around a client (endpoint limits,
    request cache on disk, usage metering), over an instant fake backend."""
    from autogen_core.models import CreateResult, RequestUsage, SystemMessage, UserMessage

    from agents.models.cache import CachedClient, RequestCache
    from agents.models.limits import EndpointLimiter, EndpointLimits, LimitedClient
    from agents.models.usage import MeteredClient, UsageMeter
    from agents.models.wrapping import WrappedClient
    from teams.flows.outputs import instructions_output

    class Instant(WrappedClient):
        def __init__(self) -> None:
            pass

        async def create(self, messages: Any, **kwargs: Any) -> CreateResult:  # type: ignore[override]
            usage = RequestUsage(prompt_tokens=500, completion_tokens=200)
            return CreateResult(content="x" * 800, usage=usage, finish_reason="stop", cached=False)

    messages = [SystemMessage(content="You write questions. " * 60), UserMessage(content="word " * 400, source="u")]
    schema = instructions_output("multiple_choice")
    limited = LimitedClient(Instant(), EndpointLimiter("e", EndpointLimits()), timeout=60, max_retries=2)
    cached = CachedClient(limited, RequestCache(Path(tempfile.mkdtemp(prefix="agentinstruct-cache-"))), {"e": 1})
    client = MeteredClient(cached, UsageMeter(), "teacher", "m")

    async def run() -> float:
        start = time.process_time()
        for _ in range(calls):
            await client.create(messages, json_output=schema)
        return (time.process_time() - start) / calls * 1000

    return asyncio.run(run())


def child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the report -------------------------------------------------------------------------------


def print_threads(row: dict[str, Any]) -> None:
    """The driver's CPU by thread (`bench/thread_cpu.py`), under a row: in all (and the loop's per
    call), then each half of the run as shares of a core."""
    threads = row.get("threads", {})
    cpu = threads.get("cpu", {})
    if "loop" not in cpu:  # not Linux
        return
    line = f"{'':>6}driver CPU s: " + ", ".join(f"{role} {seconds:.1f}" for role, seconds in cpu.items() if seconds)
    line += f"; loop {1000 * cpu['loop'] / row['calls']:.2f} ms/call"
    half = threads["seconds"] / 2
    for name, shares in zip(("first", "second"), threads["halves"], strict=True):
        line += f"; {name} half: " + ", ".join(
            f"{role} {100 * seconds / half:.0f}%" for role, seconds in shares.items() if seconds >= 0.05
        )
    print(line, flush=True)


def replay(endpoint: Endpoint, sent: Path, level: int, calls: int) -> tuple[dict[str, Any], float]:
    """The bare loop over the requests the server received since the last look (written to
    `sent`), and the server's share of a core meanwhile."""
    server_pipe = endpoint.stats(dump=sent)
    assert server_pipe["requests"] >= calls
    bare = child(["bare", endpoint.base_url, str(sent), str(level)])
    server_bare = endpoint.stats()
    return bare, (server_bare["cpu"] - server_pipe["cpu"]) / bare["wall"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the fake endpoint takes per call")
    parser.add_argument("--levels", default="1,16,64,128,256", help="seeds in flight, comma-separated")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="worker processes of the second pipeline row (1: none)"
    )
    parser.add_argument("--resume-seeds", type=int, default=1000, help="seeds of the finished run to resume (0: skip)")
    parser.add_argument(
        "--near-dedup", action="store_true", help="keep near-duplicate search on in every row (default: exact only, but for the defaults-on rows)"
    )
    parser.add_argument(
        "--defaults-levels", default="64,128",
        help="levels that also get a one-process row with the defaults on (judge and near-duplicate search)",
    )  # fmt: skip
    parser.add_argument(
        "--defaults-questions", default="template,varied",
        help="the fake's questions in the defaults-on rows: one template (the tests' fake), varied (bench/varied_fake.py), or both",
    )  # fmt: skip
    parser.add_argument(
        "--default-gc", action="store_true", help="Python's default garbage collector settings (one-process rows only)"
    )
    args = parser.parse_args()
    if args.default_gc:
        os.environ["BENCH_GC"] = "default"  # read by the measuring children
        args.workers = 1
    levels = [int(x) for x in args.levels.split(",")]
    work = Path(tempfile.mkdtemp(prefix="agentinstruct-bench-"))
    endpoint = Endpoint(args.latency)
    print(f"fake endpoint {endpoint.base_url}, {args.latency * 1000:.0f} ms per call; {os.cpu_count()} CPUs; {work}")
    print(f"pipeline: judge on, exact dedup, near-duplicate search {'on' if args.near_dedup else 'off'}; "
          f"garbage collector: {'Python defaults' if args.default_gc else 'as a run sets it'}")  # fmt: skip
    dedup = "1" if args.near_dedup else "0"
    header = (
        f"{'C':>4} {'W':>2} {'near':>4} {'questions':>9} {'seeds':>5} {'calls':>6} | {'seeds/s':>7} {'calls/s':>8} {'CPU ms/call':>11} {'peak MiB':>8} | "
        f"{'bare calls/s':>12} {'CPU ms/call':>11} | {'ratio':>5} | {'server CPU':>10}"
    )
    print(header)
    print("-" * len(header))
    ratios: dict[tuple[int, int, str, str], float] = {}
    peaks: dict[int, float] = {}
    for level in levels:
        seeds = make_seeds(work / f"seeds{level}", 4 if level == 1 else 2 * level)
        pipe = child(["pipeline", endpoint.base_url, str(seeds), str(work / "runs"), str(level), f"c{level}", dedup, "1"])
        bare, server_share = replay(endpoint, work / f"requests{level}.jsonl", level, pipe["calls"])
        rows = [(1, dedup, "template", pipe, bare, server_share)]
        if args.workers > 1 and level > 1:
            spread = ["pipeline", endpoint.base_url, str(seeds), str(work / "runs"), str(level), f"c{level}w", dedup]
            rows.append((args.workers, dedup, "template", child([*spread, str(args.workers)]), bare, server_share))
            endpoint.stats()
        if str(level) in args.defaults_levels.split(",") and dedup == "0":
            for questions in args.defaults_questions.split(","):
                defaults = ["pipeline", endpoint.base_url, str(seeds), str(work / "runs"), str(level), f"c{level}d{questions}"]
                row = child([*defaults, "1", "1", questions])
                # against the bare loop of its own requests: varied questions make other prompts and answers
                own, own_share = replay(endpoint, work / f"requests{level}{questions}.jsonl", level, row["calls"])
                rows.append((1, "1", questions, row, own, own_share))
        for workers, near, questions, row, bare, server_share in rows:
            rate = row["calls"] / row["wall"]
            bare_rate = bare["calls"] / bare["wall"]
            ratios[level, workers, near, questions] = rate / bare_rate
            if near == "1" or level == 256:
                peaks[level] = max(peaks.get(level, 0), row["peak_rss_mib"])
            print(
                f"{level:>4} {workers:>2} {'on' if near == '1' else 'off':>4} {questions:>9} {row['seeds']:>5} {row['calls']:>6} | {row['seeds'] / row['wall']:>7.2f} "
                f"{rate:>8.1f} {1000 * row['cpu'] / row['calls']:>11.2f} {row['peak_rss_mib']:>8.0f} | "
                f"{bare_rate:>12.1f} {1000 * bare['cpu'] / bare['calls']:>11.2f} | {rate / bare_rate:>5.2f} | "
                f"{100 * server_share:>9.0f}% | {row['records']} kept, dropped {row['dropped']}",
                flush=True,
            )
            print_threads(row)
    print(f"(ceiling at C: C / latency = {', '.join(f'{lv / args.latency:.0f}' for lv in levels)} calls/s; "
          "W: pipeline processes; bare loop: one process; server CPU: the fake server's share of one core during the bare loop)")  # fmt: skip

    print(f"agentinstruct's own layers (limits, request cache, metering): {measure_layers():.2f} CPU ms per call")
    print("\ngoals")
    for (level, workers, near, questions), ratio in ratios.items():
        if level == 128:
            goal = "0.9" if near == "1" else ("1.0" if workers == 1 else "0.9")
            print(
                f"  C=128 at {args.latency * 1000:.0f} ms, {workers} pipeline process{'es' if workers > 1 else ''}, "
                f"near-duplicate search {'on' if near == '1' else 'off'}, {questions} questions: "
                f"pipeline / bare loop calls/s = {ratio:.2f} (goal >= {goal})"
            )
    if 256 in peaks:
        print(f"  peak RSS with 256 seeds in flight, one process (defaults on if measured): {peaks[256]:.0f} MiB (goal < 1536 MiB)")
    if args.resume_seeds:
        endpoint.close()
        endpoint = Endpoint(0.0)
        seeds = make_seeds(work / "seeds-resume", args.resume_seeds)
        made = child(["pipeline", endpoint.base_url, str(seeds), str(work / "runs"), "256", "finished", dedup, "1"])
        endpoint.stats()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "teams.cli", "run", "--resume", "finished", "--out", str(work / "runs")],
            capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        wall = time.perf_counter() - start
        calls = endpoint.stats()["requests"]
        print(
            f"  resuming a finished run of {made['seeds']} seeds: {wall:.2f} s wall for `agentinstruct run --resume` "
            f"(exit {done.returncode}), {calls} model calls (goal < 5 s, 0 calls)"
        )
    endpoint.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(float(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "pipeline":
        base_url, seeds, out, level, run_id, near, workers = sys.argv[2:9]
        varied = sys.argv[9:] == ["varied"]
        print(json.dumps(measure_pipeline(base_url, Path(seeds), Path(out), int(level), run_id, near == "1", int(workers), varied)))
    elif len(sys.argv) > 1 and sys.argv[1] == "bare":
        print(json.dumps(measure_bare(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
