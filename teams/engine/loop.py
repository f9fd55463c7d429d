"""The run loop: every seed not yet committed goes through the per-seed entry, `concurrency` at a
time (here, or through a SeedProcessor that the caller chose: worker processes or Ray), past the
quality gate, into the run folder, one seed at a time and in commit order."""

from __future__ import annotations

import asyncio
import ctypes
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from loguru import logger

from agents.models.usage import Usage
from retrieval.seeds import Seed
from teams.engine.config import RunConfig
from teams.engine.prepare import PreparedRun, versions
from teams.engine.process import collect_as_before, collect_less, quiet_autogen, quiet_stopped_runtimes
from teams.engine.seed import process_one
from teams.runfolder.folder import RunFolder, SeedOutcome
from teams.runfolder.info import RunInfo

INFO_EVERY = 1.0  # seconds between run.json rewrites during a run

ProgressCallback = Callable[[SeedOutcome, RunInfo], None]


def _release_freed_memory() -> Callable[[], None]:
    """glibc's malloc_trim(0), which hands the heap's free pages back to the system (a no-op elsewhere)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int

    def release() -> None:
        trim(0)

    return release


def _admitting(gate: Any) -> Callable[[SeedOutcome, dict[str, Any]], SeedOutcome]:
    """The gate's admit, then the memory its embeddings freed given back (torch's buffers stay in
    malloc's free lists otherwise: with the gate on the default executor's threads, one arena of
    them per thread; `malloc_trim` trims every arena, the embed-ahead thread's too)."""
    release = _release_freed_memory()

    def admit(outcome: SeedOutcome, ahead: dict[str, Any]) -> SeedOutcome:
        admitted: SeedOutcome = gate.admit(outcome, ahead)
        if gate.index is not None:
            release()
        return admitted

    return admit


class SeedProcessor(Protocol):
    """Where seeds go when they are not run in this process: worker processes
    (teams.engine.workers) or Ray actors (teams.engine.ray_runner)."""

    in_flight: int  # seeds it takes at once, over all its workers

    async def start(self) -> None:
        """Get the workers ready (a no-op once they are); a worker that cannot start fails here."""
        ...

    async def __call__(self, seed: Seed) -> SeedOutcome: ...

    async def close(self) -> None: ...


def evenly(seeds: list[Seed], k: int) -> list[Seed]:
    """k seeds spread over the list: a dry run's sample."""
    if k >= len(seeds):
        return list(seeds)
    step = len(seeds) / k
    return [seeds[int(i * step)] for i in range(k)]


def _new_or_resumed_info(run: PreparedRun, folder: RunFolder) -> RunInfo:
    config = run.config
    if run.resume:
        info = folder.info()
        info.status, info.finished_at, info.stop_reason = "running", None, None
        info.resumed_at.append(datetime.now(UTC).isoformat(timespec="seconds"))
        info.totals = info.totals.recount(run.committed)
        run.meter.merge([Usage.model_validate(row) for row in info.totals.usage])
    else:
        info = RunInfo(
            run_id=run.run_id,
            skill=config.skill,
            skills=dict(config.skills),
            command=sys.argv,
            config=config.model_dump(mode="json"),
            models={role: run.pool.spec_for(role).label for role in run.roles},
            versions=versions(),
        )
    info.tool_calling.update(run.tool_calling)
    info.totals.seeds = len(run.seeds)
    info.totals.skipped_documents = run.skipped_documents
    return info


async def run_pipeline(
    config: RunConfig | PreparedRun,
    on_seed: ProgressCallback | None = None,
    on_start: Callable[[RunInfo], None] | None = None,
    sample: int | None = None,
    processor: SeedProcessor | None = None,
) -> tuple[RunFolder, RunInfo]:
    """Run every seed not yet committed and write the run folder; returns it with its final
    run.json. With `sample`, only that many seeds (a dry run), then the run stops. With a
    `processor`, seeds are run there; this process stays the only writer of the run folder."""
    run = config if isinstance(config, PreparedRun) else PreparedRun(config)
    config, run_id, pool = run.config, run.run_id, run.pool
    folder = RunFolder.open(config.out, run_id) if run.resume else RunFolder.create(config.out, run_id)
    sink = logger.add(folder.log_path, level="DEBUG", enqueue=False)
    gate = run.quality.open(folder)
    quiet_autogen()
    quiet_stopped_runtimes(asyncio.get_running_loop())  # Ctrl-C: the stopped group chats' tasks
    envs = run.envs()
    info = _new_or_resumed_info(run, folder)
    seeds = evenly(run.todo, sample) if sample is not None else run.todo
    folder.write_info(info)
    logger.info(
        "run {} {}: skill {}, {} seeds ({} to do), concurrency {}, {} worker process{}",
        run_id, "resumed" if run.resume else "started", config.skill, len(run.seeds), len(seeds), config.concurrency,
        config.workers, "" if config.workers == 1 else "es",
    )  # fmt: skip
    run.log_tool_calling()
    if on_start:
        on_start(info)

    budget_hit = asyncio.Event()
    down_hit = asyncio.Event()  # an endpoint stayed down past endpoint_down_after
    down_reason: list[str] = []
    admit_lock = asyncio.Lock()
    # the gate's own thread: near-duplicate search's torch buffers in one malloc arena, not one per
    # thread of the default executor (which aiohttp's resolver uses too)
    gate_thread = ThreadPoolExecutor(1, thread_name_prefix="quality-gate")
    # and one that embeds a finished seed's instructions while it waits for its turn at the gate
    ahead_thread = ThreadPoolExecutor(1, thread_name_prefix="embed-ahead")
    admit = _admitting(gate)
    run.meter.on_budget = lambda reason: budget_hit.set()
    if run.meter.budget_reason:
        budget_hit.set()
    last_info_write = [time.monotonic()]
    queue: asyncio.Queue[Seed] = asyncio.Queue()
    for seed in seeds:
        queue.put_nowait(seed)

    def commit(outcome: SeedOutcome) -> None:
        outcome.status.skill = outcome.status.skill or run.assignment.get(outcome.seed.id)
        info.totals.account(run.meter)  # the progress bar shows live usage
        folder.commit(outcome)
        info.totals.count(outcome.status)
        if outcome.status.status == "failed":
            logger.warning("seed {} failed: {}", outcome.seed.id, outcome.status.reason)
        if time.monotonic() - last_info_write[0] >= INFO_EVERY:  # the usage so far survives a kill
            folder.write_info(info)
            last_info_write[0] = time.monotonic()
        logger.info(
            "seed {} {}: {} records, {} tokens",
            outcome.seed.id,
            outcome.status.status,
            len(outcome.records),
            outcome.status.tokens,
        )
        if on_seed:
            on_seed(outcome, info)

    async def worker() -> None:
        while not budget_hit.is_set() and not down_hit.is_set():
            try:
                seed = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            skill_name = run.assignment[seed.id]
            if processor is not None:
                outcome = await processor(seed)
            else:
                outcome = await process_one(
                    envs[skill_name], run.skills[skill_name], seed, config.seed, fresh=seed.id in run.retried
                )
            if outcome.endpoint_down:  # not this seed's failure: no line, so a resume runs it
                down_reason.append(outcome.endpoint_down)
                down_hit.set()
                return
            # Near-duplicate search embeds the seed's instructions (their vectors do not depend on
            # the order seeds are committed in) before its turn: with many seeds in flight, the
            # gate's one-at-a-time part was the run's bottleneck, seeds queued for it half a minute
            loop = asyncio.get_running_loop()
            ahead = await loop.run_in_executor(ahead_thread, gate.embed_ahead, outcome) if gate.index is not None else {}
            async with admit_lock:  # one seed at a time through the gate, in commit order
                # Duplicates and contaminated records out, counted. Near-duplicate search embeds
                # every record: in a thread, so the other seeds' model calls go on meanwhile.
                outcome = await loop.run_in_executor(gate_thread, admit, outcome, ahead)
                commit(outcome)

    gc_thresholds = collect_less()
    try:
        if processor is not None and seeds:
            await processor.start()  # the progress bar and Ctrl-C stay live meanwhile
        in_flight = processor.in_flight if processor is not None else config.concurrency
        workers = [asyncio.ensure_future(worker()) for _ in range(min(in_flight, len(seeds)))]
        all_done = asyncio.gather(*workers)
        budget_wait = asyncio.ensure_future(budget_hit.wait())
        down_wait = asyncio.ensure_future(down_hit.wait())
        try:
            waiting: list[asyncio.Future[Any]] = [all_done, budget_wait, down_wait]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            budget_wait.cancel()
            down_wait.cancel()
            if not all_done.done():  # budget or endpoint: seeds in flight are dropped, done again on resume
                all_done.cancel()
                await asyncio.gather(all_done, return_exceptions=True)
        totals = info.totals
        if down_hit.is_set():
            info.status, info.stop_reason = "endpoint_down", down_reason[0]
            logger.info("run {} stopped: {}", run_id, down_reason[0])
        elif budget_hit.is_set():
            info.status = "budget_reached"  # its reason once the calls in flight are paid, below
        else:
            all_done.result()  # a bug in a worker surfaces here
            if sample is not None and len(seeds) < len(run.todo):
                info.status, info.stop_reason = "stopped", f"dry run: a sample of {len(seeds)} seeds"
            else:
                info.status = (
                    "failed"
                    if not totals.seeds_done
                    else "completed_with_failures"
                    if totals.seeds_failed
                    else "completed"
                )
    except (asyncio.CancelledError, KeyboardInterrupt):
        info.status, info.stop_reason = "stopped", "interrupted"
        logger.warning(
            "run {} stopped: {} of {} seeds recorded",
            run_id,
            info.totals.seeds_done + info.totals.seeds_failed,
            len(run.seeds),
        )
        raise
    finally:
        if info.status == "running":
            info.status = "failed"
        info.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if processor is not None:
            await processor.close()
        info.totals.account(run.meter)
        if info.status == "budget_reached":
            info.stop_reason = run.meter.budget_reason
            logger.warning("run {} stopped: {}", run_id, info.stop_reason)
        folder.write_info(info)
        await pool.close()
        gate_thread.shutdown(wait=False)
        ahead_thread.shutdown(wait=False)
        logger.remove(sink)
        collect_as_before(gc_thresholds)
    return folder, info
