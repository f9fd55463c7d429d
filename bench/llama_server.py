"""Figures on llama.cpp's own server (`llama-server`, built by `make llama-server`) serving the bundled
SmolLM2-135M: records per seed of reading comprehension, and records and the retrieval agent's
search_code calls per tool-use seed; the pipeline's completion tokens per second against the server's
own ceiling, measured in the same run: the very requests the pipeline sent, replayed straight to the
server with as many in flight as it has slots (-np), no agents around them. Tokens are the server's
own count (the delta of /metrics' tokens_predicted_total over each measurement's wall time). Also
the time the last `make llama-server` build took (the build-seconds the build script writes).

    .venv/bin/python bench/llama_server.py [--rc-seeds 3] [--parallel 4] [--concurrency 4] [--threads 1] [--skip-tool-use]

It starts the server on a free port of 127.0.0.1 (and kills it at the end). The pipeline runs in
this process, timed without its imports; its requests pass through a small proxy in the test helpers
(tests.llama_server.CountingProxy), which keeps them for the replay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.llama_server import (  # noqa: E402
    MODEL,
    THREADS,
    CountingProxy,
    LlamaServer,
    build_seconds,
    find_binary,
    wanted_binary,
)


def flow_of(example: str) -> dict[str, Any]:
    """The light flow settings of an example config (examples/demo.yaml, examples/tool_use.yaml)."""
    return dict(yaml.safe_load((REPO / "examples" / example).read_text())["flow"])


def run_pipeline(skill: str, seeds: Path, base_url: str, out: Path, run_id: str, flow: dict[str, Any],
                 concurrency: int, max_seeds: int | None) -> tuple[float, Any]:  # fmt: skip
    from agents.models import ModelSpec
    from teams.engine import PreparedRun, RunConfig
    from teams.engine import run_pipeline as pipeline

    config = RunConfig(
        skill=skill, seeds=seeds, out=out, run_id=run_id, concurrency=concurrency, max_seeds=max_seeds,
        models={"default": ModelSpec(model=MODEL, base_url=base_url)}, flow=flow, index=out / "index",
    )  # fmt: skip
    run = PreparedRun(config)  # reads the seeds, probes tool calling, builds the index: before the clock
    start = time.perf_counter()
    _, info = asyncio.run(pipeline(run))
    return time.perf_counter() - start, info


async def replay(base_url: str, bodies: list[bytes], parallel: int) -> float:
    """The pipeline's requests straight to the server, `parallel` in flight; the wall seconds."""
    import aiohttp

    pending = iter(bodies)
    url = base_url + "/chat/completions"

    async def worker(session: aiohttp.ClientSession) -> None:
        for body in pending:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()

    start = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(worker(session) for _ in range(parallel)))
    return time.perf_counter() - start


def transcripts(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((folder / "transcripts").glob("*.json"))]


def search_calls(transcript: dict[str, Any]) -> tuple[int, int]:
    """The retrieval agent's search_code calls in one seed's transcript (every attempt): those it
    asked for, and those that searched (past `max_searches` a call is answered with a refusal)."""
    teams = [team for team in transcript["teams"] if team["step"] == "retrieve_apis"]
    asked = sum(
        call.get("name") == "search_code"
        for team in teams
        for message in team["messages"] if message["type"] == "ToolCallRequestEvent"
        for call in message["content"]
    )  # fmt: skip
    refused = sum(
        str(result.get("content", "")).startswith("search limit reached")
        for team in teams
        for message in team["messages"] if message["type"] == "ToolCallExecutionEvent"
        for result in message["content"]
    )  # fmt: skip
    return asked, asked - refused


def measure(name: str, skill: str, seeds: Path, server: LlamaServer, out: Path, flow: dict[str, Any],
            args: argparse.Namespace, max_seeds: int | None) -> dict[str, Any]:  # fmt: skip
    proxy = CountingProxy(server.port, keep_bodies=True).start()
    try:
        before = server.metrics()["tokens_predicted_total"]
        wall, info = run_pipeline(skill, seeds, proxy.base_url, out, name, flow, args.concurrency, max_seeds)
        produced = server.metrics()["tokens_predicted_total"] - before
    finally:
        proxy.close()
    before = server.metrics()["tokens_predicted_total"]
    replay_wall = asyncio.run(replay(server.base_url, proxy.bodies, args.parallel))
    replayed = server.metrics()["tokens_predicted_total"] - before
    totals = info.totals
    seeds_run = totals.seeds_done + totals.seeds_failed
    row = {
        "run": name, "status": info.status, "seeds": seeds_run, "seeds_failed": totals.seeds_failed,
        "records": totals.records, "records_per_seed": round(totals.records / max(1, seeds_run), 2),
        "requests": len(proxy.bodies), "pipeline_seconds": round(wall, 1),
        "pipeline_tokens_per_s": round(produced / wall, 1),
        "ceiling_seconds": round(replay_wall, 1), "ceiling_tokens_per_s": round(replayed / replay_wall, 1),
    }  # fmt: skip
    row["ratio"] = round(row["pipeline_tokens_per_s"] / max(row["ceiling_tokens_per_s"], 1e-9), 2)
    if skill == "tool_use":
        found = transcripts(out / name)
        counted = [search_calls(t) for t in found]
        row["search_calls_per_seed"] = [asked for asked, _ in counted]
        row["searches_run_per_seed"] = [ran for _, ran in counted]
        row["retrieval_attempts_per_seed"] = [
            sum(team["step"] == "retrieve_apis" for team in t["teams"]) for t in found
        ]
        row["tool_calling"] = {k: ("native" if v.native else "structured output") for k, v in info.tool_calling.items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rc-seeds", type=int, default=3, help="reading-comprehension seeds (examples/seeds)")
    parser.add_argument(
        "--parallel", type=int, default=4, help="the server's slots (-np): the ceiling's requests in flight"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="the pipeline's seeds in flight")
    parser.add_argument("--threads", type=int, default=THREADS, help="the server's decoding threads (-t)")
    parser.add_argument("--skip-tool-use", action="store_true")
    args = parser.parse_args()
    binary = find_binary()
    if binary is None:
        sys.exit(f"error: no llama-server at {wanted_binary()}: run `make llama-server`")
    from loguru import logger

    logger.remove()
    out = Path(tempfile.mkdtemp(prefix="bench-llama-server-"))
    rows = []
    with LlamaServer(binary, out / "logs", parallel=args.parallel, threads=args.threads) as server:
        print(
            f"llama-server {binary} on {server.base_url}, -np {args.parallel} -t {args.threads}; runs in {out}",
            flush=True,
        )
        rows.append(measure("rc", "reading_comprehension", REPO / "examples" / "seeds", server, out,
                            flow_of("demo.yaml"), args, args.rc_seeds))  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        if not args.skip_tool_use:
            rows.append(measure("tool_use", "tool_use", REPO / "examples" / "code", server, out,
                                flow_of("tool_use.yaml"), args, None))  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    seconds = build_seconds()
    print(f"build: llama-server took {seconds:.0f} s to build (build-seconds)" if seconds is not None
          else "build: no build-seconds recorded (a binary given by $LLAMA_SERVER?)")  # fmt: skip
    for row in rows:
        line = (f"{row['run']}: {row['seeds']} seeds, {row['records_per_seed']} records per seed; pipeline "
                f"{row['pipeline_tokens_per_s']} completion tokens/s vs the server's ceiling "
                f"{row['ceiling_tokens_per_s']} "
                f"(ratio {row['ratio']}, {row['requests']} requests replayed {args.parallel} at a time)")  # fmt: skip
        if "search_calls_per_seed" in row:
            line += (f"; search_code calls per seed {row['search_calls_per_seed']} (searches run "
                     f"{row['searches_run_per_seed']}, over {row['retrieval_attempts_per_seed']} retrieval attempts)")  # fmt: skip
        print(line)


if __name__ == "__main__":
    main()
