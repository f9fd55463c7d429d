"""The per-seed pipeline (transform -> instructions -> refine -> answer -> check -> record) and
the run loop that pushes seeds through it, `concurrency` at a time, into a run folder."""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from agents.cache import RequestCache
from agents.models import ModelPool, ModelSpec
from agents.personas import PersonaError, PersonaLibrary, Sampling
from agents.usage import Budget, Price, Usage, UsageMeter
from retrieval.seeds import Seed, load_seeds
from taxonomies import Taxonomy, TaxonomyError, load_taxonomy
from teams.errors import one_line
from teams.flows import (
    IDENTITY,
    FlowEnv,
    FlowSettings,
    SeedLog,
    answer,
    generate_instructions,
    pick_specialists,
    refine,
    transform,
    weighted_pick,
)
from teams.judge import judge_records, pick_judge
from teams.mixing import MIXED, assign_skills
from teams.quality import QualityGate, QualitySettings
from teams.resume import repair, totals_from
from teams.run_folder import RunFolder, RunInfo, SeedStatus
from teams.schemas import Record, SeedTranscript
from teams.skills import Skill, get_skill

NO_TRANSFORMATION = "none"
INFO_EVERY = 1.0  # seconds between run.json rewrites during a run
FLOW_ORDER = ["content_transformation", "instruction_generation", "refinement", "answer", "judge"]
ROLES = ["transformer", "instruction_writer", "suggester", "editor", "teacher"]


class RunConfig(BaseModel):
    """Everything a run needs; written (without secrets: specs name key variables, never keys)
    into run.json."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(description=f"the skill, or '{MIXED}' with the skills and their weights in `skills`")
    skills: dict[str, float] = Field(default_factory=dict, description="a mixed run: skill -> weight")
    seeds: Path
    out: Path = Path("runs")
    run_id: str | None = None
    max_seeds: int | None = Field(None, ge=1)
    concurrency: int = Field(4, ge=1, le=4096)
    workers: int = Field(1, ge=1, le=256, description="worker processes sharing the seeds (teams.workers); 1: this one")
    seed: int = 0
    personas: list[Path] = Field(default_factory=list)
    models: dict[str, ModelSpec] = Field(default_factory=lambda: {"default": ModelSpec()})
    flow: FlowSettings = Field(default_factory=FlowSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    chunk_chars: int = Field(3000, ge=200)
    index: Path | None = Field(None, description="the code index tool use searches (None: its default folder)")
    prices: dict[str, Price] = Field(default_factory=dict, description="per model label, $ per 1M tokens")
    budget: Budget = Field(default_factory=Budget)
    cache: bool = Field(True, description="the persistent request cache (--no-cache: off)")
    cache_dir: Path | None = Field(None, description="None: the run folder's cache/; share one to reuse calls across runs")


class SeedOutcome(BaseModel):
    seed: Seed
    records: list[Record]
    status: SeedStatus
    transcript: SeedTranscript
    dropped: list[Record] = Field(default_factory=list, description="candidates not kept; meta.dropped says why")


class _AutogenToRunLog(logging.Handler):
    """AutoGen logs an agent's failure with a full traceback; our transcript already records
    it, so the run log gets one line and the terminal nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text}: {one_line(record.exc_info[1])}"
        logger.bind(origin=record.name).debug("autogen: {}", text[:500])


def quiet_autogen() -> None:
    """AutoGen's log lines go to the run log (one line each), and its OpenTelemetry spans are
    off unless a tracer provider is configured (e.g. by `opentelemetry-instrument`): a span
    nobody records still costs CPU on every message and model call."""
    for name in ("autogen_core", "autogen_agentchat", "autogen_ext"):
        autogen_logger = logging.getLogger(name)
        autogen_logger.handlers = [_AutogenToRunLog()]
        autogen_logger.setLevel(logging.WARNING)
        autogen_logger.propagate = False
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody set one
        trace.set_tracer_provider(trace.NoOpTracerProvider())  # AutoGen's runtimes and agents all ask it


#: Python's cyclic garbage collector during a run (its defaults: 700, 10, 10)
RUN_GC_THRESHOLDS = (50_000, 20, 20)


def collect_less() -> tuple[int, int, int]:
    """Fewer cyclic garbage collections while seeds are in flight, none of them scanning what was
    loaded before the run (frozen). Every seed makes thousands of short-lived AutoGen objects;
    with Python's defaults the collector ran so often, over so large a heap, that it took a large
    share of a run's CPU and paused the event loop for up to a few hundred ms at a time
    (`bench/throughput.py --default-gc` shows the difference). Returns the thresholds replaced."""
    replaced = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    return replaced


def collect_as_before(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def new_run_id(skill: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{skill}-{uuid.uuid4().hex[:6]}"


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("agentinstruct", "autogen-agentchat", "autogen-ext", "llama-cpp-python", "openai"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def check_library(
    library: PersonaLibrary,
    env_skill: str,
    taxonomy_names: set[str],
    taxonomy: Taxonomy | None = None,
    roles: Sequence[str] = ROLES,
) -> None:
    """Refuse a run whose persona pools cannot serve the skill, naming what is missing."""
    transforms = taxonomy is None or taxonomy.transforms
    for role in roles:
        if role == "transformer" and not transforms:
            continue  # a skill with no transformation step (text modification)
        if not library.pool(role, env_skill):
            raise PersonaError(f"skill '{env_skill}' has no persona with role '{role}'")
    for writer in library.pool("instruction_writer", env_skill):
        unknown = [t for t in writer.instruction_types if t not in taxonomy_names]
        if unknown:
            raise PersonaError(f"{writer.source}: instruction_types: {unknown} not in the {env_skill} taxonomy")


async def process_seed(env: FlowEnv, skill: Skill, seed: Seed, rng: random.Random, run_id: str) -> SeedOutcome:
    """One seed through the three flows and the teacher; never raises for a model's failure."""
    log = SeedLog(seed)
    library = env.library
    transforms = env.taxonomy.transforms
    transformer = weighted_pick(rng, library.pool("transformer", env.skill), 1)[0] if transforms else None
    suggester = weighted_pick(rng, library.pool("suggester", env.skill), 1)[0]
    editor = weighted_pick(rng, library.pool("editor", env.skill), 1)[0]
    teacher = weighted_pick(rng, library.pool("teacher", env.skill), 1)[0]
    goals = env.taxonomy.refinement_goals
    goal_offset = rng.randrange(len(goals)) if goals else 0

    records: list[Record] = []
    if transformer is None:  # no transformation step: the seed goes to the specialists as it is
        transformation, passage = NO_TRANSFORMATION, seed.text
    else:
        transformation = transformer.transformation or IDENTITY
        rewritten = await transform(env, log, seed, transformer)
        if rewritten is None:  # the failure is recorded; the seed still teaches, as it is
            transformation, rewritten = IDENTITY, seed.text
        passage = rewritten
    specialists = pick_specialists(env, rng, transformation)
    instructions = await generate_instructions(env, log, passage, specialists)
    if instructions and goals:
        chains = await asyncio.gather(
            *(
                refine(env, log, inst, goals[(goal_offset + i) % len(goals)], suggester, editor)
                for i, inst in enumerate(instructions)
            )
        )
        instructions += [refined for chain in chains for refined in chain]
    answers = await asyncio.gather(*(answer(env, log, inst, teacher) for inst in instructions))

    personas = {
        **({"transformer": transformer.name} if transformer else {}),
        "suggester": suggester.name,
        "editor": editor.name,
        "teacher": teacher.name,
    }
    transcript_path = f"transcripts/{seed.id}.json"
    kept = [(inst, result) for inst, result in zip(instructions, answers, strict=True) if result is not None]
    for inst, (reply, answer_tokens) in kept:
        meta: dict[str, Any] = {
            "run_id": run_id,
            "seed_id": seed.id,
            "seed_source": seed.source,
            "seed_chunk": seed.chunk,
            "transformation": transformation,
            "question_type": inst.subcategory,
            "answer_format": inst.answer_format,
            "instruction_key": inst.key,
            "instruction": skill.instruction_text(inst),
            "refinement": (
                {"goal": inst.refinement_goal, "round": inst.refinement_round, "parent": inst.parent}
                if inst.refinement_goal
                else None
            ),
            "personas": {**personas, "instruction_writer": inst.writer},
            "models": {
                role: env.pool.spec_for(library.get(name).uses_model_role).label for role, name in personas.items()
            },
            "tokens": {"answer": answer_tokens, "seed_total": log.tokens, "seed_records": len(kept)},
            "transcript": transcript_path,
        }
        records.append(
            Record(
                id=f"{seed.id}-{inst.key}",
                skill=env.skill,
                subcategory=inst.subcategory,
                messages=skill.messages(inst, reply),
                meta=meta,
            )
        )
    return await finish_seed(env, log, seed, rng, records, "no instruction survived the checks")


async def finish_seed(
    env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random, records: list[Record], empty_reason: str
) -> SeedOutcome:
    """How every seed ends, whatever its flows: the judge, the transcript in flow order, the
    seed's status (a failed seed's reason is the step that left it with nothing)."""
    dropped: list[Record] = []
    judge = pick_judge(env, rng)
    if records and judge is not None:
        records, dropped = await judge_records(env, log, records, judge)
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
            status=status,
            records=len(records),
            tokens=log.tokens,
            reason=reason,
            failures=[f.model_dump() for f in log.failures],
            dropped={"judge": len(dropped)} if dropped else {},
        ),
        transcript=log.transcript,
        dropped=dropped,
    )


ProgressCallback = Callable[[SeedOutcome, RunInfo], None]


class SeedProcessor(Protocol):
    """Where seeds go when not run in this process: worker processes (teams.workers) or Ray
    workers (teams.ray_runner)."""

    async def __call__(self, seed: Seed) -> SeedOutcome: ...

    async def close(self) -> None: ...


async def process_one(env: FlowEnv, skill: Skill, seed: Seed, config_seed: int, run_id: str) -> SeedOutcome:
    """One seed, by the skill's own flows if it has them, else the generic ones. The rng depends
    only on the run's seed and the seed's id, so a resumed or sharded seed makes the same choices
    (and so the same model calls, which the request cache then answers)."""
    rng = random.Random(f"{config_seed}:{seed.id}")
    own_flow = getattr(skill, "process_seed", None)  # a skill with flows of its own
    if own_flow is not None:
        outcome: SeedOutcome = await own_flow(env, seed, rng, run_id)
        return outcome
    return await process_seed(env, skill, seed, rng, run_id)


def evenly(seeds: list[Seed], k: int) -> list[Seed]:
    """k seeds spread over the list: a dry run's sample."""
    if k >= len(seeds):
        return list(seeds)
    step = len(seeds) / k
    return [seeds[int(i * step)] for i in range(k)]


class PreparedRun:
    """A run whose inputs were all validated: skill, taxonomy, personas, seeds, models, folder name.
    With `resume`, the run folder exists: it is repaired and its committed seeds are skipped."""

    def __init__(self, config: RunConfig, pool: ModelPool | None = None, *, resume: bool = False):
        self.config = config
        self.resume = resume
        names = list(config.skills) if config.skill == MIXED else [config.skill]
        if not names:
            raise TaxonomyError(f"a '{MIXED}' run needs skills (--skills)")
        self.library = PersonaLibrary.load(config.personas)
        self.skills: dict[str, Skill] = {}
        self.taxonomies: dict[str, Taxonomy] = {}
        # A skill with flows of its own may name its roles, load its own kind of seeds (code, for
        # tool use) and prepare what its flows share (tool use: the code index) as env.resources.
        roles: dict[str, None] = {}
        for name in names:
            self.skills[name] = get_skill(name)
            self.taxonomies[name] = load_taxonomy(name)
            taxonomy = self.taxonomies[name]
            skill_roles = getattr(self.skills[name], "roles", ROLES)
            roles.update(dict.fromkeys(skill_roles))
            check_library(self.library, name, {s.name for s in taxonomy.subcategories}, taxonomy, skill_roles)
        self.roles: list[str] = list(roles)
        self.skill, self.taxonomy = self.skills[names[0]], self.taxonomies[names[0]]
        loader = getattr(self.skill, "load_seeds", load_seeds) if config.skill != MIXED else load_seeds
        self.seeds = loader(config.seeds, max_chars=config.chunk_chars, max_seeds=config.max_seeds)
        # seed id -> skill: every seed goes to its run's one skill, or is shared out by weight
        self.assignment = (
            assign_skills([s.id for s in self.seeds], config.skills, config.seed)
            if config.skill == MIXED
            else dict.fromkeys((s.id for s in self.seeds), config.skill)
        )
        self.quality = QualityGate(config.quality)  # reads the benchmark files now: a bad one fails before any work
        for name in names:
            if config.flow.judge_threshold > 0 and not self.library.pool("judge", name):
                raise PersonaError(f"skill '{name}' has no persona with role 'judge' (or set flow.judge_threshold: 0)")
        self.run_id = config.run_id or new_run_id(config.skill)
        self.committed: list[SeedStatus] = []
        if resume:
            folder = RunFolder.open(config.out, self.run_id)
            fixed = repair(folder)
            self.committed = fixed.seeds
            if fixed.torn_lines or fixed.orphan_records or fixed.duplicates:
                logger.info(
                    "resume {}: removed {} torn lines, {} records of unfinished seeds, {} duplicates",
                    self.run_id, fixed.torn_lines, fixed.orphan_records, fixed.duplicates,
                )  # fmt: skip
        else:
            RunFolder.ensure_new(config.out, self.run_id)
        done = {s.id for s in self.committed}
        self.todo = [seed for seed in self.seeds if seed.id not in done]
        self.meter = UsageMeter(config.prices, config.budget)
        cache_dir = config.cache_dir or RunFolder(config.out / self.run_id).cache_path
        self.pool = pool or ModelPool(dict(config.models))
        self.pool.cache = RequestCache(cache_dir) if config.cache else None
        self.pool.meter = self.meter
        for role in self.roles:  # a missing key or package fails here, before any work
            self.pool.client_for(role, Sampling())
        if config.flow.judge_threshold > 0:
            self.pool.client_for("judge", Sampling())
        # skill -> what its own flows share (tool use: the code index, brought up to date here)
        self.resources: dict[str, dict[str, Any]] = {
            name: skill.prepare(config) for name, skill in self.skills.items() if hasattr(skill, "prepare")
        }
        self.processor: SeedProcessor | None = None  # None: in this process; see teams.workers, teams.ray_runner
        self.in_flight = config.concurrency  # seeds at once (a Ray run: per worker)


def _new_or_resumed_info(run: PreparedRun, folder: RunFolder) -> RunInfo:
    config = run.config
    if run.resume:
        info = folder.info()
        info.status, info.finished_at, info.stop_reason = "running", None, None
        info.resumed_at.append(datetime.now(UTC).isoformat(timespec="seconds"))
        info.totals = totals_from(run.committed, info.totals)
        run.meter.merge([Usage.model_validate(row) for row in info.totals.usage])
    else:
        info = RunInfo(
            run_id=run.run_id,
            skill=config.skill,
            skills=dict(config.skills),
            command=sys.argv,
            config=config.model_dump(mode="json"),
            models={role: run.pool.spec_for(role).label for role in run.roles},
            versions=_versions(),
        )
    info.totals.seeds = len(run.seeds)
    return info


def _account(info: RunInfo, meter: UsageMeter) -> None:
    totals = info.totals
    totals.calls, totals.cached_calls = meter.calls, meter.cached_calls
    totals.model_tokens = meter.tokens
    totals.cost_usd = round(meter.cost, 6) if meter.prices else None
    totals.usage = [row.model_dump() for row in meter.snapshot()]


def build_envs(
    config: RunConfig,
    library: PersonaLibrary,
    pool: ModelPool,
    skills: dict[str, Skill],
    taxonomies: dict[str, Taxonomy],
    resources: dict[str, Any],
) -> dict[str, FlowEnv]:
    """What each skill's flows share in one process (the driver's, or a Ray worker's)."""
    return {
        name: FlowEnv(taxonomies[name], library, pool, config.flow, skill_checks=skill, resources=resources.get(name))
        for name, skill in skills.items()
    }


async def run_pipeline(
    config: RunConfig | PreparedRun,
    on_seed: ProgressCallback | None = None,
    on_start: Callable[[RunInfo], None] | None = None,
    sample: int | None = None,
) -> tuple[RunFolder, RunInfo]:
    """Run every seed not yet committed and write the run folder; returns it with its final
    run.json. With `sample`, only that many seeds (a dry run), then the run stops."""
    run = config if isinstance(config, PreparedRun) else PreparedRun(config)
    config, run_id, pool = run.config, run.run_id, run.pool
    folder = RunFolder.open(config.out, run_id) if run.resume else RunFolder.create(config.out, run_id)
    sink = logger.add(folder.log_path, level="DEBUG", enqueue=False)
    gate = run.quality.open(folder)
    quiet_autogen()
    envs = build_envs(config, run.library, pool, run.skills, run.taxonomies, run.resources)
    info = _new_or_resumed_info(run, folder)
    seeds = evenly(run.todo, sample) if sample is not None else run.todo
    folder.write_info(info)
    logger.info(
        "run {} {}: skill {}, {} seeds ({} to do), concurrency {}, {} worker process{}",
        run_id, "resumed" if run.resume else "started", config.skill, len(run.seeds), len(seeds), config.concurrency,
        config.workers, "" if config.workers == 1 else "es",
    )  # fmt: skip
    if on_start:
        on_start(info)

    budget_hit = asyncio.Event()
    admit_lock = asyncio.Lock()
    run.meter.on_budget = lambda reason: budget_hit.set()
    if run.meter.budget_reason:
        budget_hit.set()
    last_info_write = [time.monotonic()]
    queue: asyncio.Queue[Seed] = asyncio.Queue()
    for seed in seeds:
        queue.put_nowait(seed)

    def commit(outcome: SeedOutcome) -> None:
        outcome.status.skill = outcome.status.skill or run.assignment.get(outcome.seed.id)
        _account(info, run.meter)  # the progress bar shows live usage
        folder.write_transcript(outcome.transcript)
        for record in outcome.records:
            folder.append_record(record)
        folder.append_seed(outcome.status)  # last: marks the seed complete
        totals = info.totals
        totals.records += len(outcome.records)
        totals.tokens += outcome.status.tokens
        totals.step_failures += len(outcome.status.failures)
        for why, count in outcome.status.dropped.items():
            totals.dropped[why] = totals.dropped.get(why, 0) + count
        if outcome.status.status == "done":
            totals.seeds_done += 1
        else:
            totals.seeds_failed += 1
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
        while not budget_hit.is_set():
            try:
                seed = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            skill_name = run.assignment[seed.id]
            if run.processor is not None:
                outcome = await run.processor(seed)
            else:
                outcome = await process_one(envs[skill_name], run.skills[skill_name], seed, config.seed, run_id)
            async with admit_lock:  # one seed at a time through the gate, in commit order
                # Duplicates and contaminated records out, counted. Near-duplicate search embeds
                # every record: in a thread, so the other seeds' model calls go on meanwhile.
                outcome = await asyncio.to_thread(gate.admit, outcome)
                commit(outcome)

    gc_thresholds = collect_less()
    try:
        if run.processor is None and config.workers > 1 and seeds:
            from teams.workers import LocalWorkers

            run.processor = processor = LocalWorkers(run, config.workers)
            await asyncio.to_thread(processor.wait_ready)  # the progress bar and Ctrl-C stay live meanwhile
        workers = [asyncio.ensure_future(worker()) for _ in range(min(run.in_flight, len(seeds)))]
        all_done = asyncio.gather(*workers)
        budget_wait = asyncio.ensure_future(budget_hit.wait())
        try:
            waiting: list[asyncio.Future[Any]] = [all_done, budget_wait]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            budget_wait.cancel()
            if not all_done.done():  # the budget: seeds in flight are dropped, done again on resume
                all_done.cancel()
                await asyncio.gather(all_done, return_exceptions=True)
        totals = info.totals
        if budget_hit.is_set():
            info.status, info.stop_reason = "budget_reached", run.meter.budget_reason
            logger.warning("run {} stopped: {}", run_id, run.meter.budget_reason)
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
        if run.processor is not None:
            await run.processor.close()
        _account(info, run.meter)
        folder.write_info(info)
        await pool.close()
        logger.remove(sink)
        collect_as_before(gc_thresholds)
    return folder, info
