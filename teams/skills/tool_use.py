"""Tool use: code seeds become a documented toolset, tasks over it, and conversations in which an
assistant calls the tools (OpenAI tool-call format) and a simulator answers for them.

Run it as `python -m teams.skills.tool_use --seeds CODE_DIR` (the same options as
`agentinstruct run tool_use`). Seed code is read, documented and searched; it is never executed.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from retrieval.code_index import DEFAULT_INDEX_DIR, CodeIndex
from retrieval.seeds import Seed, load_code_seeds
from teams.flows import FlowEnv, SeedLog, weighted_pick
from teams.schemas import AnswerOutput, Instruction, Message, Record
from teams.tool_flows import (
    converse,
    extract_apis,
    pick_task_writers,
    reconstruct_apis,
    refine_task,
    retrieve_apis,
    write_tasks,
)
from teams.tool_schemas import TASK_SHAPES

if TYPE_CHECKING:
    from teams.pipeline import RunConfig, SeedOutcome


class ToolUse:
    name = "tool_use"
    roles = [
        "api_extractor", "api_retriever", "library_reconstructor", "instruction_writer", "suggester", "editor",
        "teacher", "tool_simulator",
    ]  # fmt: skip

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        raise NotImplementedError("tool use writes its records in process_seed")

    @staticmethod
    def load_seeds(path: Any, max_chars: int = 3000, max_seeds: int | None = None) -> list[Seed]:
        return load_code_seeds(path, max_chars=max_chars, max_seeds=max_seeds)

    @staticmethod
    def prepare(config: RunConfig) -> dict[str, Any]:
        """Bring the code index up to date with the seeds (unchanged files are not embedded again)."""
        missing = sorted(set(TASK_SHAPES) ^ {s.name for s in _taxonomy().subcategories})
        if missing:
            from taxonomies import TaxonomyError

            raise TaxonomyError(f"tool_use task types without a shape in TASK_SHAPES, or the reverse: {missing}")
        index = CodeIndex(config.index or DEFAULT_INDEX_DIR)
        return {"code_index": index, "index_stats": index.build(config.seeds)}

    async def process_seed(self, env: FlowEnv, seed: Seed, rng: random.Random, run_id: str) -> SeedOutcome:
        from teams.pipeline import finish_seed

        log = SeedLog(seed)
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
        if tasks and goals:
            offset = rng.randrange(len(goals))
            chains = await asyncio.gather(*(
                refine_task(env, log, t, tools, goals[(offset + i) % len(goals)], pick["suggester"], pick["editor"])
                for i, t in enumerate(tasks)
            ))  # fmt: skip
            tasks += [refined for chain in chains for refined in chain]
        results = await asyncio.gather(
            *(converse(env, log, t, tools, pick["teacher"], pick["tool_simulator"]) for t in tasks)
        )

        personas = {role: p.name for role, p in pick.items()}
        kept = [(t, r) for t, r in zip(tasks, results, strict=True) if r is not None]
        records = []
        for task, (messages, tokens) in kept:
            meta: dict[str, Any] = {
                "run_id": run_id, "seed_id": seed.id, "seed_source": seed.source, "seed_chunk": seed.chunk,
                "transformation": "api_documentation", "task_type": task.subcategory, "instruction_key": task.key,
                "toolset_growth": growth,
                "apis": [{"name": t.name, "origin": t.origin, "source": t.source, "returns": t.returns} for t in tools],
                "task": task.draft.model_dump(exclude={"request", "follow_up"}),
                "refinement": ({"goal": task.refinement_goal, "round": task.refinement_round, "parent": task.parent}
                               if task.refinement_goal else None),
                "personas": {**personas, "instruction_writer": task.writer},
                "models": {role: env.pool.spec_for(env.library.get(name).uses_model_role).label
                           for role, name in personas.items()},
                "tokens": {"answer": tokens, "seed_total": log.tokens, "seed_records": len(kept)},
                "transcript": f"transcripts/{seed.id}.json",
            }  # fmt: skip
            records.append(Record(id=f"{seed.id}-{task.key}", skill=self.name, subcategory=task.subcategory,
                                  messages=messages, tools=[t.openai() for t in tools], meta=meta))  # fmt: skip
        return await finish_seed(env, log, seed, rng, records, "no task survived the checks")


def _taxonomy() -> Any:
    from taxonomies import load_taxonomy

    return load_taxonomy("tool_use")


SKILL = ToolUse()

if __name__ == "__main__":
    from teams.cli import run_skill_script

    run_skill_script(SKILL.name)
