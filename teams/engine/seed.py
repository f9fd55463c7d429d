"""The per-seed entry: one seed through its skill's flows, then the judge, into what it commits.
The same in the driver, a worker process and a Ray actor."""

from __future__ import annotations

import random
from typing import Literal

from agents.models.cache import FRESH_ANSWERS
from agents.models.usage import SEED_TOKENS, TokenCount
from retrieval.seeds import Seed
from teams.flows.judge import judge_records, pick_judge
from teams.flows.runtime import FlowEnv, SeedLog
from teams.flows.skill import Skill
from teams.flows.types import Record
from teams.runfolder.folder import SeedOutcome
from teams.runfolder.info import SeedStatus

FLOW_ORDER = ["content_transformation", "instruction_generation", "refinement", "answer", "judge"]


def seed_rng(run_seed: int, seed: Seed) -> random.Random:
    """A seed's own random choices: they depend only on the run's `--seed` and the seed's id, so a
    resumed or sharded seed makes the same choices (and so the same model calls, which the
    request cache then answers)."""
    return random.Random(f"{run_seed}:{seed.id}")


async def process_one(env: FlowEnv, skill: Skill, seed: Seed, run_seed: int, fresh: bool = False) -> SeedOutcome:
    """One seed of a run; never raises for a model's failure. A seed that ends after the run gave
    up on an endpoint says so (`endpoint_down`): what it has is not its work, and it is not committed.
    A `fresh` seed (one that failed, run again) makes its calls anew: the cache holds its failed answers."""
    token = FRESH_ANSWERS.set(fresh)
    try:
        outcome = await process_seed(env, skill, seed, seed_rng(run_seed, seed))
    finally:
        FRESH_ANSWERS.reset(token)
    down = env.pool.endpoint_down()
    if down is not None:
        outcome.endpoint_down = str(down)
    return outcome


async def process_seed(env: FlowEnv, skill: Skill, seed: Seed, rng: random.Random) -> SeedOutcome:
    """One seed through its skill's flows and the judge, drawing from `rng`. Its line's tokens are
    what its calls spent, as the run's meter counted them, done or failed: a seed's transcript
    leaves out the calls whose answer did not parse, and the user simulator's."""
    log = SeedLog(seed)
    spent = TokenCount()
    counting = SEED_TOKENS.set(spent)
    try:
        records = await skill.make_records(env, log, seed, rng)
        outcome = await finish_seed(env, log, seed, rng, records, skill.empty_reason)
    finally:
        SEED_TOKENS.reset(counting)
    outcome.status.tokens = spent.tokens
    return outcome


async def finish_seed(
    env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random, records: list[Record], empty_reason: str
) -> SeedOutcome:
    """How every seed ends, whatever its flows: the judge, the transcript in flow order, the
    seed's status (a failed seed's reason is the step that left it with nothing)."""
    dropped = [r for r in records if r.meta.get("dropped")]  # dropped by the flows' own verification
    records = [r for r in records if not r.meta.get("dropped")]
    judged: list[Record] = []
    judge = pick_judge(env, rng)
    if records and judge is not None:
        records, judged = await judge_records(env, log, records, judge)
    counts: dict[str, int] = {}
    for record in (*dropped, *judged):
        counts[record.meta["dropped"]["by"]] = counts.get(record.meta["dropped"]["by"], 0) + 1
    dropped += judged
    log.transcript.teams.sort(key=lambda team: FLOW_ORDER.index(team.flow))
    status: Literal["done", "failed"] = "done" if records or dropped else "failed"
    reason = None
    if not records and not dropped:
        last = log.failures[-1] if log.failures else None
        reason = f"{last.flow}: {last.reason}" if last else empty_reason
    return SeedOutcome(
        seed=seed,
        records=records,
        status=SeedStatus(
            id=seed.id,
            skill=env.skill,
            source=seed.source,
            chunk=seed.chunk,
            lineage=seed.lineage.compact(),
            status=status,
            records=len(records),
            reason=reason,
            failures=[f.model_dump() for f in log.failures],
            dropped=counts,
        ),
        transcript=log.transcript,
        dropped=dropped,
    )
