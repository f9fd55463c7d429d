"""The tool-use skill: its flows in order, for one code seed, into candidate records."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.code_index import DEFAULT_INDEX_DIR, CodeDocument, CodeIndex
from retrieval.seeds import Seed
from taxonomies import TaxonomyError, load_taxonomy
from teams.flows.records import record_meta
from teams.flows.refine import goal_plan
from teams.flows.runtime import FlowEnv, SeedLog, weighted_pick
from teams.flows.types import Record
from teams.skills.tool_use.conversation import converse
from teams.skills.tool_use.schemas import TASK_SHAPES
from teams.skills.tool_use.tasks import pick_task_writers, refine_task, write_tasks
from teams.skills.tool_use.toolset import extract_apis, reconstruct_apis, retrieve_apis

if TYPE_CHECKING:
    from teams.engine.config import RunConfig


def row_documents(seeds: list[Seed]) -> list[CodeDocument]:
    """The code rows the seeds came from, one index document each (its chunks joined again)."""
    rows: dict[str, list[Seed]] = {}
    for seed in seeds:
        rows.setdefault(f"{seed.source}#row={seed.lineage.row}", []).append(seed)
    return [CodeDocument(key=key, text="\n\n".join(s.text for s in sorted(part, key=lambda s: s.chunk)),
                         language=part[0].lineage.language or "text") for key, part in rows.items()]  # fmt: skip


class ToolUse:
    name = "tool_use"
    uses_tools = True  # its agents call tools: `function_calling: auto` is probed for it
    roles = [
        "api_extractor", "api_retriever", "library_reconstructor", "instruction_writer", "suggester", "editor",
        "teacher", "tool_simulator", "user_simulator",
    ]  # fmt: skip
    empty_reason = "no task survived the checks"

    @staticmethod
    def prepare(config: RunConfig, seeds: list[Seed] | None = None) -> dict[str, Any]:
        """Bring the code index up to date with the seeds (unchanged files are not embedded again):
        a folder or file of code, every file of it; code rows (a table, a dataset), the rows that
        became seeds. Without seeds (a worker process), the index as the driver left it."""
        missing = sorted(set(TASK_SHAPES) ^ {s.name for s in load_taxonomy("tool_use").subcategories})
        if missing:
            raise TaxonomyError(f"tool_use task types without a shape in TASK_SHAPES, or the reverse: {missing}")
        index = CodeIndex(config.index or DEFAULT_INDEX_DIR)
        if seeds is None:
            return {"code_index": index}
        if all(s.lineage.row is None for s in seeds):
            return {"code_index": index, "index_stats": index.build(Path(config.seeds))}
        return {"code_index": index, "index_stats": index.build_documents(row_documents(seeds))}

    async def make_records(self, env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random) -> list[Record]:
        pick = {role: weighted_pick(rng, env.library.pool(role, env.skill), 1)[0] for role in self.roles
                if role != "instruction_writer"}  # fmt: skip
        goals = env.taxonomy.refinement_goals

        tools = await extract_apis(env, log, seed, pick["api_extractor"])
        growth = "none"
        if tools:
            added, _ = await retrieve_apis(env, log, tools, env.resources["code_index"], pick["api_retriever"])
            growth = "retrieved" if added else "none"
            if not added:
                growth = (
                    "reconstructed"
                    if await reconstruct_apis(env, log, tools, pick["library_reconstructor"])
                    else "none"
                )
        tasks = []
        if tools:
            for writer, sub in pick_task_writers(env, rng, tools):
                tasks += await write_tasks(env, log, tools, writer, sub)
        talk = pick["teacher"], pick["tool_simulator"], pick["user_simulator"]
        results = list(await asyncio.gather(*(converse(env, log, t, tools, *talk) for t in tasks)))
        # Refinement reads each task with its first conversation (a task that gave none is not
        # refined); the refined tasks are then conversed afresh.
        plan = goal_plan(env, rng.randrange(len(goals)) if goals else 0, len(tasks))
        jobs = [(t, r[0], goal) for t, r, t_goals in zip(tasks, results, plan, strict=True) if r for goal in t_goals]
        chains = await asyncio.gather(*(
            refine_task(env, log, t, conversation, tools, goal, pick["suggester"], pick["editor"])
            for t, conversation, goal in jobs
        ))  # fmt: skip
        refined = [task for chain in chains for task in chain]
        results += await asyncio.gather(*(converse(env, log, t, tools, *talk) for t in refined))
        tasks += refined

        personas = {role: p.name for role, p in pick.items()}
        kept = [(t, r) for t, r in zip(tasks, results, strict=True) if r is not None]
        records = []
        for task, (messages, tokens) in kept:
            particular: dict[str, Any] = {
                "transformation": "api_documentation", "task_type": task.subcategory, "toolset_growth": growth,
                "apis": [{"name": t.name, "origin": t.origin, "source": t.source, "returns": t.returns} for t in tools],
                "task": task.draft.model_dump(exclude={"request", "follow_up"}),
            }  # fmt: skip
            counts = {"answer": tokens, "seed_total": log.tokens, "seed_records": len(kept)}
            records.append(Record(id=f"{seed.id}-{task.key}", skill=self.name, subcategory=task.subcategory,
                                  messages=messages, tools=[t.openai() for t in tools],
                                  meta=record_meta(env, seed, task, personas, counts, **particular)))  # fmt: skip
        return records


SKILL = ToolUse()
