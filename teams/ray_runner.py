"""Seeds sharded across Ray workers (the `ray` extra): `agentinstruct run ... --ray [ADDRESS]`.

Each worker is an async Ray actor that runs the same per-seed pipeline, `concurrency` seeds at
a time, against the configured endpoints, and returns each seed's outcome with the model usage
it saw. The driver (the `agentinstruct` process) commits every outcome: it stays the only
writer of records, seeds, transcripts and run.json, so a Ray run's folder is like any other
and `runs show` and `--resume` treat it so. Workers share the request cache folder (SQLite,
safe across processes; across machines, put `cache_dir` on a shared file system). Endpoint
limits apply per worker.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from loguru import logger

from agents.cache import RequestCache
from agents.models import ModelPool
from agents.personas import PersonaLibrary
from agents.usage import Usage, UsageMeter
from retrieval.seeds import Seed, SeedError
from taxonomies import load_taxonomy
from teams.errors import one_line
from teams.mixing import MIXED
from teams.pipeline import PreparedRun, RunConfig, SeedOutcome, build_envs, process_one, route_autogen_logs
from teams.skills import get_skill

PACKAGES = ("agents", "teams", "retrieval", "taxonomies")


class RayWorkerError(SeedError):
    """A Ray worker or node that failed: one line for the user, and the run can be resumed."""


def runtime_env() -> dict[str, Any]:
    """Ship this checkout's packages to the workers, so every node runs the driver's code."""
    root = Path(__file__).resolve().parent.parent
    return {"py_modules": [str(root / name) for name in PACKAGES]}


class SeedWorker:
    """One Ray worker: the run's skill, personas and models, built once."""

    def __init__(self, config_json: str, run_id: str, cache_dir: str | None):
        logger.remove()  # the driver logs; a worker's log lines would only interleave on its console
        route_autogen_logs()
        self.config = RunConfig.model_validate_json(config_json)
        self.run_id = run_id
        self.meter = UsageMeter(self.config.prices)
        cache = RequestCache(Path(cache_dir)) if cache_dir else None
        self.pool = ModelPool(dict(self.config.models), cache=cache, meter=self.meter)
        library = PersonaLibrary.load(self.config.personas)
        names = list(self.config.skills) if self.config.skill == MIXED else [self.config.skill]
        self.skills = {name: get_skill(name) for name in names}
        # what a skill's own flows share (tool use: the code index, which the driver brought up to date)
        resources = {name: skill.prepare(self.config) for name, skill in self.skills.items() if hasattr(skill, "prepare")}
        taxonomies = {name: load_taxonomy(name) for name in names}
        self.envs = build_envs(self.config, library, self.pool, self.skills, taxonomies, resources)

    async def process(self, seed: Seed, skill: str) -> tuple[SeedOutcome, list[Usage]]:
        outcome = await process_one(self.envs[skill], self.skills[skill], seed, self.config.seed, self.run_id)
        usage, self.meter.rows = self.meter.snapshot(), {}  # what this worker used since its last answer
        return outcome, usage


class RayProcessor:
    """A SeedProcessor that sends each seed to the least busy worker."""

    def __init__(self, run: PreparedRun, address: str | None):
        try:
            import ray
        except ImportError:
            raise SeedError("--ray needs the 'ray' extra: pip install 'agentinstruct[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        cache = run.pool.cache
        actor = ray.remote(num_cpus=1)(SeedWorker)
        self.actors: list[Any] = [
            actor.remote(run.config.model_dump_json(), run.run_id, str(cache.directory) if cache is not None else None)
            for _ in range(workers)
        ]
        self.busy = dict.fromkeys(range(workers), 0)
        self.ray_error = ray.exceptions.RayError
        self.meter = run.meter
        self.assignment = run.assignment  # seed id -> skill (a mixed run shares seeds out by weight)
        self._order = itertools.count()
        # the driver keeps `concurrency` seeds in flight per worker
        run.in_flight = run.config.concurrency * workers
        logger.info("ray: {} workers", workers)

    async def __call__(self, seed: Seed) -> SeedOutcome:
        index = min(self.busy, key=lambda i: (self.busy[i], next(self._order)))
        self.busy[index] += 1
        try:
            reference = self.actors[index].process.remote(seed, self.assignment[seed.id])
            outcome, usage = await asyncio.wrap_future(reference.future())
        except self.ray_error as error:  # a lost worker or node: the run stops; --resume carries on
            raise RayWorkerError(f"Ray worker failed on seed {seed.id}: {one_line(error)}") from None
        finally:
            self.busy[index] -= 1
        self.meter.merge(usage)
        return outcome
