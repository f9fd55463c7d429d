"""The method for one document seed: transform -> instructions -> refine -> answer, into candidate
records. The personas of the seed are drawn first, in a fixed order, from the seed's own rng."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from agents.personas import Persona
from retrieval.seeds import Seed
from teams.flows.answer import answer
from teams.flows.instruct import generate_instructions, pick_specialists
from teams.flows.outputs import AnswerOutput
from teams.flows.records import record_meta
from teams.flows.refine import refine
from teams.flows.runtime import FlowEnv, SeedLog, weighted_pick
from teams.flows.skill import RecordShape
from teams.flows.transform import IDENTITY, review_wanted, transform
from teams.flows.types import Instruction, Record

NO_TRANSFORMATION = "none"
# The teacher's step: an instruction and the teacher -> the answer that passed its checks, with
# its tokens (None: none did). A skill may bring its own (a conversation is a team of its own).
Answerer = Callable[[FlowEnv, SeedLog, Instruction, Persona], Awaitable[tuple[AnswerOutput, int] | None]]


async def document_records(
    env: FlowEnv,
    log: SeedLog,
    seed: Seed,
    rng: random.Random,
    shape: RecordShape,
    answerer: Answerer = answer,
    extra_personas: dict[str, str] | None = None,
) -> list[Record]:
    """One seed through the three flows and the teacher (or `answerer`, with the personas it adds
    to the records' meta); never raises for a model's failure."""
    library = env.library
    transforms = env.taxonomy.transforms
    transformer = weighted_pick(rng, library.pool("transformer", env.skill), 1)[0] if transforms else None
    suggester = weighted_pick(rng, library.pool("suggester", env.skill), 1)[0]
    editor = weighted_pick(rng, library.pool("editor", env.skill), 1)[0]
    teacher = weighted_pick(rng, library.pool("teacher", env.skill), 1)[0]
    reviewers = library.pool("transform_reviewer", env.skill)
    wanted = transformer is not None and review_wanted(env, transformer)
    reviewer = weighted_pick(rng, reviewers, 1)[0] if wanted and reviewers else None
    goals = env.taxonomy.refinement_goals
    goal_offset = rng.randrange(len(goals)) if goals else 0

    if transformer is None:  # no transformation step: the seed goes to the specialists as it is
        transformation, passage = NO_TRANSFORMATION, seed.text
    else:
        transformation = transformer.transformation or IDENTITY
        rewritten = await transform(env, log, seed, transformer, reviewer)
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
    answers = await asyncio.gather(*(answerer(env, log, inst, teacher) for inst in instructions))

    personas = {
        **({"transformer": transformer.name} if transformer else {}),
        **({"transform_reviewer": reviewer.name} if reviewer else {}),
        "suggester": suggester.name,
        "editor": editor.name,
        "teacher": teacher.name,
        **(extra_personas or {}),
    }
    kept = [(inst, result) for inst, result in zip(instructions, answers, strict=True) if result is not None]
    records = []
    for inst, (reply, answer_tokens) in kept:
        particular: dict[str, Any] = {
            "transformation": transformation,
            "question_type": inst.subcategory,
            "answer_format": inst.answer_format,
            "instruction": shape.instruction_text(inst),
        }
        tokens = {"answer": answer_tokens, "seed_total": log.tokens, "seed_records": len(kept)}
        records.append(
            Record(
                id=f"{seed.id}-{inst.key}",
                skill=env.skill,
                subcategory=inst.subcategory,
                messages=shape.messages(inst, reply),
                meta=record_meta(env, seed, inst, personas, tokens, **particular),
            )
        )
    return records
