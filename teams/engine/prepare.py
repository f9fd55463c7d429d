"""Before any model call: a run's inputs validated (skills, taxonomies, personas, seeds, models,
benchmarks, the run folder's name), its folder repaired when it is resumed, and what every
process of the run builds the same way (SkillSet: the personas, the skills, their flows' envs)."""

from __future__ import annotations

import platform
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from loguru import logger

from agents.models.cache import RequestCache
from agents.models.pool import ModelPool
from agents.models.spec import ModelSpec, Sampling
from agents.models.usage import UsageMeter
from agents.personas import PersonaError, PersonaLibrary
from retrieval.seeds import Seed
from retrieval.sources import read_seeds
from taxonomies import Taxonomy, TaxonomyError, load_taxonomy
from teams.engine.config import RunConfig
from teams.engine.mixing import MIXED, assign_skills
from teams.engine.quality import QualityGate
from teams.engine.tool_calling import log_tool_calling, resolve_tool_calling, resolved
from teams.flows.runtime import FlowEnv
from teams.flows.skill import ROLES, Skill
from teams.runfolder.folder import RunFolder
from teams.runfolder.info import SeedStatus, ToolCalling
from teams.runfolder.repair import repair
from teams.skills import get_skill


def new_run_id(skill: str) -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{skill}-{uuid.uuid4().hex[:6]}"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("agentinstruct", "autogen-agentchat", "autogen-ext", "llama-cpp-python", "openai"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


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


class SkillSet:
    """The run's skills, their taxonomies and the persona library: what the driver and every worker
    process (or Ray actor) build alike from the same config."""

    def __init__(self, config: RunConfig):
        names = config.skill_names
        if not names:
            raise TaxonomyError(f"a '{MIXED}' run needs skills (--skills)")
        self.library = PersonaLibrary.load(config.personas)
        self.skills: dict[str, Skill] = {name: get_skill(name) for name in names}
        self.taxonomies: dict[str, Taxonomy] = {name: load_taxonomy(name) for name in names}

    def resources(self, config: RunConfig, seeds: list[Seed] | None = None) -> dict[str, dict[str, Any]]:
        """skill -> what its own flows share (tool use: the code index, brought up to date with
        the seeds by the driver; a worker, given none, opens it as the driver left it)."""
        return {name: skill.prepare(config, seeds) for name, skill in self.skills.items() if hasattr(skill, "prepare")}

    def envs(self, config: RunConfig, pool: ModelPool, run_id: str, resources: dict[str, Any]) -> dict[str, FlowEnv]:
        """What each skill's flows share in one process."""
        return {
            name: FlowEnv(self.taxonomies[name], self.library, pool, config.flow, skill_checks=skill,
                          resources=resources.get(name), run_id=run_id, seeds=config.seeds)
            for name, skill in self.skills.items()
        }  # fmt: skip


class PreparedRun:
    """A run whose inputs were all validated: skill, taxonomy, personas, seeds, models, folder name.
    With `resume`, the run folder exists: it is repaired and its committed seeds are skipped."""

    def __init__(
        self, config: RunConfig, pool: ModelPool | None = None, *, resume: bool = False, retry_failed: bool = False
    ):
        self.config = config
        self.resume = resume
        self.skill_set = SkillSet(config)
        library = self.skill_set.library
        roles: dict[str, None] = {}  # every role the run's skills draw on
        for name, skill in self.skill_set.skills.items():
            taxonomy = self.skill_set.taxonomies[name]
            roles.update(dict.fromkeys(skill.roles))
            check_library(library, name, {s.name for s in taxonomy.subcategories}, taxonomy, skill.roles)
        problems = library.check(config.skill_names)  # every template the run may render, before any call
        if problems:
            raise PersonaError(problems[0])
        self.roles: list[str] = list(roles)
        first = self.skill_set.taxonomies[config.skill_names[0]]
        # documents or code: a mixed run's skills all take documents
        read = read_seeds(config.seeds, first.seeds, config.seed_options())
        self.seeds, self.skipped_documents = read.seeds, read.skipped
        # seed id -> skill: every seed goes to its run's one skill, or is shared out by weight
        self.assignment = (
            assign_skills([s.id for s in self.seeds], config.skills, config.seed)
            if config.skill == MIXED
            else dict.fromkeys((s.id for s in self.seeds), config.skill)
        )
        self.quality = QualityGate(config.quality)  # reads the benchmark files now: a bad one fails before any work
        for name in config.skill_names:
            if config.flow.judge_threshold > 0 and not library.pool("judge", name):
                raise PersonaError(f"skill '{name}' has no persona with role 'judge' (or set flow.judge_threshold: 0)")
        self.run_id = config.run_id or new_run_id(config.skill)
        self.committed: list[SeedStatus] = []
        self.retried: set[str] = set()  # failed seeds run again (--retry-failed)
        known: dict[str, ToolCalling] = {}
        if resume:
            folder = RunFolder.open(config.out, self.run_id)
            known = folder.info().tool_calling
            fixed = repair(folder, retry_failed=retry_failed)
            self.committed = fixed.seeds
            self.retried = set(fixed.retried)
            if fixed.retried:
                logger.info("resume {}: {} failed seeds run again", self.run_id, len(fixed.retried))
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
        # function_calling: auto, probed once per endpoint when the run's agents call tools
        self.uses_tools = any(getattr(skill, "uses_tools", False) for skill in self.skill_set.skills.values())
        specs = ModelPool(dict(config.models)).specs
        self.used_specs = self._used_specs(specs)  # as configured: `auto` still says auto
        self.tool_calling = resolve_tool_calling(self.used_specs, known) if self.uses_tools else known
        self.models = {role: resolved(spec, self.tool_calling) for role, spec in specs.items()}
        self.pool = pool or ModelPool(self.models)
        self.pool.cache = RequestCache(cache_dir) if config.cache else None
        self.pool.meter = self.meter
        self.pool.down_after = config.endpoint_down_after
        for role in self.roles:  # a missing key or package fails here, before any work
            self.pool.client_for(role, Sampling())
        if config.flow.judge_threshold > 0:
            self.pool.client_for("judge", Sampling())
        self.resources = self.skill_set.resources(config, self.seeds)

    def _used_specs(self, specs: dict[str, ModelSpec]) -> list[ModelSpec]:
        roles = [*self.roles, "judge"] if self.config.flow.judge_threshold > 0 else self.roles
        return [specs.get(role) or specs["default"] for role in roles]

    def log_tool_calling(self) -> None:
        """Which way each endpoint's agents call tools, in run.log (a run whose agents call tools)."""
        if self.uses_tools:
            log_tool_calling(self.used_specs, self.tool_calling, self.resume)

    @property
    def worker_config(self) -> RunConfig:
        """The config worker processes run: `function_calling: auto` as the driver's probe found it."""
        return self.config.model_copy(update={"models": self.models})

    @property
    def skills(self) -> dict[str, Skill]:
        return self.skill_set.skills

    def envs(self) -> dict[str, FlowEnv]:
        return self.skill_set.envs(self.config, self.pool, self.run_id, self.resources)
