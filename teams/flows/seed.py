"""The method for one document seed: transform -> instructions -> refine -> answer -> verify, into
candidate records. The personas of the seed are drawn first, in a fixed order, from the seed's own
rng. A pair that fails verification is still a candidate, marked `meta.dropped`, so that it is
written to dropped.jsonl and counted rather than lost."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from agents.personas import Persona
from retrieval.seeds import Seed
from teams.flows.answer import answer
from teams.flows.checks.keys import flip_problem, key_problem
from teams.flows.instruct import generate_instructions, pick_specialists
from teams.flows.outputs import AnswerOutput
from teams.flows.records import record_meta
from teams.flows.refine import goal_plan, refine
from teams.flows.runtime import FlowEnv, SeedLog, weighted_pick
from teams.flows.skill import RecordShape
from teams.flows.transform import IDENTITY, review_wanted, transform
from teams.flows.types import Instruction, Record

NO_TRANSFORMATION = "none"
VERIFICATION = "verification"  # meta.dropped.by of a pair dropped by `verify`
# The teacher's step: an instruction and the teacher -> the answer that passed its checks, with
# its tokens (None: none did). A skill may bring its own (a conversation is a team of its own).
Answerer = Callable[[FlowEnv, SeedLog, Instruction, Persona], Awaitable[tuple[AnswerOutput, int] | None]]


class SeedPersonas(NamedTuple):
    transformer: Persona | None  # None: the skill has no transformation step
    suggester: Persona
    editor: Persona
    teacher: Persona


def draw_personas(env: FlowEnv, rng: random.Random) -> SeedPersonas:
    """The seed's transformer, Suggester, Editor and teacher, each drawn by weight from the skill's
    pool, in this order."""
    pool = env.library.pool
    transformer = weighted_pick(rng, pool("transformer", env.skill), 1)[0] if env.taxonomy.transforms else None
    suggester, editor, teacher = (
        weighted_pick(rng, pool(r, env.skill), 1)[0] for r in ("suggester", "editor", "teacher")
    )
    return SeedPersonas(transformer, suggester, editor, teacher)


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
    transformer, suggester, editor, teacher = draw_personas(env, rng)
    reviewers = env.library.pool("transform_reviewer", env.skill)
    wanted = transformer is not None and review_wanted(env, transformer)
    reviewer = weighted_pick(rng, reviewers, 1)[0] if wanted and reviewers else None
    goals = env.taxonomy.refinement_goals
    goal_offset = rng.randrange(len(goals)) if goals else 0  # the goals are taken in turn from here

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
    plan = goal_plan(env, goal_offset, len(instructions))
    jobs = [(inst, goal) for inst, inst_goals in zip(instructions, plan, strict=True) for goal in inst_goals]
    chains = await asyncio.gather(*(refine(env, log, inst, goal, suggester, editor) for inst, goal in jobs))
    instructions += [refined for chain in chains for refined in chain]
    answers = await asyncio.gather(*(answerer(env, log, inst, teacher) for inst in instructions))
    verdicts = verify(instructions, answers)

    personas = {
        **({"transformer": transformer.name} if transformer else {}),
        **({"transform_reviewer": reviewer.name} if reviewer else {}),
        "suggester": suggester.name,
        "editor": editor.name,
        "teacher": teacher.name,
        **(extra_personas or {}),
    }
    kept = [(inst, result) for inst, result in zip(instructions, answers, strict=True) if result is not None]
    records, seed_total = [], log.tokens  # a sum over every message of the seed: once, not per record
    for inst, (reply, answer_tokens) in kept:
        particular: dict[str, Any] = {
            "transformation": transformation,
            "question_type": inst.subcategory,
            "answer_format": inst.answer_format,
            "instruction": shape.instruction_text(inst),
        }
        tokens = {"answer": answer_tokens, "seed_total": seed_total, "seed_records": len(kept)}
        records.append(
            Record(
                id=f"{seed.id}-{inst.key}",
                skill=env.skill,
                subcategory=inst.subcategory,
                messages=shape.messages(inst, reply),
                meta=record_meta(env, seed, inst, personas, tokens, **particular),
            )
        )
        verdict = verdicts.get(inst.key)
        if verdict:  # a candidate all the same: the engine moves it to dropped.jsonl, counted
            records[-1].meta["dropped"] = {"by": VERIFICATION, "reason": verdict[0], "detail": verdict[1]}
    return records


def verify(
    instructions: list[Instruction], answers: list[tuple[AnswerOutput, int] | None]
) -> dict[str, tuple[str, str]]:
    """Why each answered pair that fails verification is dropped, by key: the teacher disagrees
    with the writer's key, or a flip_answer child's answer is its parent's."""
    by_key = {
        inst.key: (inst, result[0] if result else None) for inst, result in zip(instructions, answers, strict=True)
    }
    verdicts = {}
    for inst, reply in by_key.values():
        if reply is None:
            continue
        verdict = key_problem(inst, reply)
        if verdict is None and inst.parent in by_key:
            parent, parent_answer = by_key[inst.parent]
            verdict = flip_problem(inst, reply, parent, parent_answer)
        if verdict:
            verdicts[inst.key] = verdict
    return verdicts
