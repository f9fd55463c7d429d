"""Seeds sharded across Ray workers (the `ray` extra): `agentinstruct run ... --ray [ADDRESS]`.

Each worker is an async Ray actor that runs the same per-seed pipeline, `concurrency` seeds at
a time, against the configured endpoints, and returns each seed's outcome with the model usage
it saw. The driver (the `agentinstruct` process) commits every outcome: it stays the only
writer of records, seeds, transcripts and run.json, so a Ray run's folder is like any other
and `runs show` and `--resume` treat it so. Workers share the request cache folder (SQLite,
safe across processes; across machines, put `cache_dir` on a shared file system). The endpoints'
limits are divided among the workers, so together they keep them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from loguru import logger

from retrieval.seeds import Seed, SeedError
from teams.engine.config import share_limits
from teams.engine.prepare import PreparedRun
from teams.engine.shards import SeedWorker, Shards, WorkerAnswer
from teams.flows.errors import one_line
from teams.runfolder.folder import SeedOutcome

PACKAGES = ("agents", "teams", "retrieval", "taxonomies")


class RayWorkerError(SeedError):
    """A Ray worker or node that failed: one line for the user, and the run can be resumed."""


def runtime_env() -> dict[str, Any]:
    """Ship this checkout's packages to the workers, so every node runs the driver's code."""
    root = Path(__file__).resolve().parents[2]
    return {"py_modules": [str(root / name) for name in PACKAGES]}


class RayProcessor(Shards):
    """A SeedProcessor that sends each seed to the least busy worker."""

    def __init__(self, run: PreparedRun, address: str | None):
        try:
            import ray
        except ImportError:
            raise SeedError("--ray needs the 'ray' extra: pip install 'agentinstruct[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        super().__init__(run, workers)
        cache = run.pool.cache
        config_json = share_limits(run.worker_config, workers).model_dump_json()
        actor = ray.remote(num_cpus=1)(SeedWorker)
        self.actors: list[Any] = [
            actor.remote(config_json, run.run_id, str(cache.directory) if cache is not None else None, sorted(run.retried))
            for _ in range(workers)
        ]
        self.ray = ray
        self.ray_error = ray.exceptions.RayError
        # the driver keeps `concurrency` seeds in flight per worker
        self.in_flight = run.config.concurrency * workers
        logger.info("ray: {} workers", workers)

    async def start(self) -> None:
        """The actors start as Ray schedules them; their first seed waits for them."""

    async def __call__(self, seed: Seed) -> SeedOutcome:
        return await self.dispatch(seed, self._send)

    async def _send(self, index: int, seed: Seed, skill: str) -> WorkerAnswer:
        try:
            reference = self.actors[index].process.remote(seed, skill)
            result: WorkerAnswer = await asyncio.wrap_future(reference.future())
        except self.ray_error as error:  # a lost worker or node: the run stops; --resume carries on
            raise RayWorkerError(f"Ray worker failed on seed {seed.id}: {one_line(error)}") from None
        return result

    async def close(self) -> None:
        """End this run's actors: in a Ray session that outlives the run (a cluster, a notebook),
        they would go on holding their CPUs, and the next run's actors could never start."""
        for actor in self.actors:
            self.ray.kill(actor)
