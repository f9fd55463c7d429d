"""What both ways of sharing a run's seeds out have in common (worker processes on this machine,
teams.engine.workers; Ray actors, teams.engine.ray_runner): the worker that runs the per-seed
entry on the seeds it is sent, what it sends back, and the dispatch to the least busy worker.

The driver (the `agentinstruct` process) stays the only writer of the run folder and merges the
workers' usage and log lines, so a run with workers is like any other for `runs show` and
`--resume`. Each worker gets its share of the endpoint limits (teams.engine.config.share_limits).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from loguru import logger

from agents.models.cache import RequestCache
from agents.models.pool import ModelPool
from agents.models.usage import Usage, UsageMeter
from retrieval.seeds import Seed
from teams.engine.config import RunConfig
from teams.engine.prepare import PreparedRun, SkillSet
from teams.engine.process import collect_less, quiet_autogen
from teams.engine.seed import process_one
from teams.runfolder.folder import SeedOutcome


class WorkerAnswer(NamedTuple):
    """A worker's answer for a seed: its outcome, and what the worker used and logged since its
    last answer (the driver is the one that logs and meters)."""

    outcome: SeedOutcome
    usage: list[Usage]
    log: list[str]


def relay_log(worker: int, lines: Sequence[str]) -> None:
    """A worker's log lines into the driver's log (the run's run.log), at their own level."""
    for line in lines:
        level, _, text = line.partition("\t")
        logger.log(level, "worker {}: {}", worker, text)


class Shards:
    """What both ways of sharing seeds out (worker processes here, Ray actors) keep: how busy
    each worker is, the skill of each seed, and the meter the workers' usage joins."""

    def __init__(self, run: PreparedRun, count: int):
        self.meter = run.meter
        self.assignment = run.assignment  # seed id -> skill (a mixed run shares seeds out by weight)
        self.busy = dict.fromkeys(range(count), 0)
        self._order = itertools.count()

    async def dispatch(
        self,
        seed: Seed,
        send: Callable[[int, Seed, str], Awaitable[WorkerAnswer]],
        among: Sequence[int] | None = None,
    ) -> SeedOutcome:
        """`seed` through `send` to the least busy worker (of `among`; ties in turn); its usage joins
        the meter, its log lines the driver's log."""
        index = min(among if among is not None else self.busy, key=lambda i: (self.busy[i], next(self._order)))
        self.busy[index] += 1
        try:
            answer = await send(index, seed, self.assignment[seed.id])
        finally:
            self.busy[index] -= 1
        self.meter.merge(answer.usage)
        relay_log(index, answer.log)
        return answer.outcome


class SeedWorker:
    """One worker (a process here, or a Ray actor): the run's skills, personas and models, built once
    from the driver's config, as the driver built them."""

    def __init__(self, config_json: str, run_id: str, cache_dir: str | None, fresh: Sequence[str] = ()):
        # the driver logs: a worker keeps its lines (info and up) for its next answer
        self.log: list[str] = []
        logger.remove()
        logger.add(lambda line: self.log.append(line.rstrip("\n")), level="INFO", format="{level}\t{message}")
        quiet_autogen()
        self.config = RunConfig.model_validate_json(config_json)
        self.fresh = set(fresh)  # failed seeds run again: their calls are made anew
        self.meter = UsageMeter(self.config.prices)
        cache = RequestCache(Path(cache_dir)) if cache_dir else None
        self.pool = ModelPool(
            dict(self.config.models), cache=cache, meter=self.meter, down_after=self.config.endpoint_down_after
        )
        skill_set = SkillSet(self.config)
        self.skills = skill_set.skills
        # what a skill's own flows share (tool use: the code index, which the driver brought up to date)
        self.envs = skill_set.envs(self.config, self.pool, run_id, skill_set.resources(self.config))
        collect_less()  # this process is the run's

    async def process(self, seed: Seed, skill: str) -> WorkerAnswer:
        outcome = await process_one(
            self.envs[skill], self.skills[skill], seed, self.config.seed, fresh=seed.id in self.fresh
        )
        usage, self.meter.rows = self.meter.snapshot(), {}  # what this worker used since its last answer
        log = self.log.copy()  # the sink holds this list: emptied, not replaced
        self.log.clear()
        return WorkerAnswer(outcome, usage, log)
