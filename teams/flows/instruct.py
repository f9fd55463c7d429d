"""2. Seed instruction generation: specialists, one per instruction type of the skill's taxonomy
(those that suit the transformation), each write instructions of their type in one group chat."""

from __future__ import annotations

import random
from collections.abc import Sequence

from agents.factory import build_agent
from agents.personas import Persona
from taxonomies import Subcategory
from teams.flows.outputs import InstructionsOutput, instructions_output
from teams.flows.prompts import Prompts
from teams.flows.runtime import FlowEnv, SeedLog, json_hint, run_team, weighted_pick
from teams.flows.types import Instruction, TeamTranscript

PROMPTS = Prompts.of_step("instruct")


def pick_specialists(env: FlowEnv, rng: random.Random, transformation: str) -> list[tuple[Persona, Subcategory]]:
    """The writers whose question types suit this transformation, drawn by weight, each with
    one of its suitable types."""
    suitable: dict[str, list[Subcategory]] = {}
    for writer in env.library.pool("instruction_writer", env.skill):
        types = [env.taxonomy.subcategory(t) for t in writer.instruction_types]
        fitting = [t for t in types if t.suits_transformation(transformation)]
        if fitting:
            suitable[writer.name] = fitting
    writers = [env.library.get(name) for name in suitable]
    limit = min(env.settings.specialists_per_seed, env.taxonomy.max_specialists or env.settings.specialists_per_seed)
    chosen = weighted_pick(rng, writers, limit)
    return [(writer, rng.choice(suitable[writer.name])) for writer in chosen]


async def generate_instructions(
    env: FlowEnv, log: SeedLog, passage: str, specialists: Sequence[tuple[Persona, Subcategory]]
) -> list[Instruction]:
    """Each specialist writes instructions of its type in one group chat; a specialist whose
    answer was unusable speaks again (alone with the others who also failed) next attempt."""
    count = env.settings.instructions_per_writer
    written: dict[str, list[Instruction]] = {}
    last_error: dict[str, str] = {}
    for attempt in range(1, env.settings.max_attempts + 1):
        remaining = [(p, sub) for p, sub in specialists if p.name not in written]
        if not remaining:
            break
        output_types = [instructions_output(sub.answer_format) for _, sub in remaining]
        agents = [
            build_agent(
                p, env.pool, output_type, {"skill": env.skill, "question_type": sub.model_dump(), "count": count}
            )
            for (p, sub), output_type in zip(remaining, output_types, strict=True)
        ]
        names = ", ".join(f"{p.name} ({sub.name})" for p, sub in remaining)
        task = PROMPTS.render(
            "task", passage=passage, specialists=names, count=count, json_hint=json_hint(InstructionsOutput)
        )
        record = TeamTranscript(flow="instruction_generation", step="specialists", attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        outputs = dict(await run_team(agents, output_types, task, len(agents), record))
        for persona, sub in remaining:
            output = outputs.get(persona.name)
            if not isinstance(output, InstructionsOutput):
                last_error[persona.name] = record.error or "no answer"
                continue
            drafts = [d for d in output.instructions[:count] if not env.draft_problems(d, sub)]
            if not drafts:
                last_error[persona.name] = (
                    f"no usable {sub.answer_format} question: {env.draft_problems(output.instructions[0], sub)}"
                )
                record.status = "invalid"
                record.error = last_error[persona.name]
                continue
            written[persona.name] = [
                Instruction(
                    key=f"{sub.name}-{i}",
                    passage=passage,
                    question=d.question.strip(),
                    options=[o.strip() for o in d.options],
                    follow_ups=[str(f).strip() for f in getattr(d, "follow_ups", [])],
                    answer_key=d.answer.strip(),
                    subcategory=sub.name,
                    answer_format=sub.answer_format,
                    writer=persona.name,
                )
                for i, d in enumerate(drafts, start=1)
            ]
    for persona, sub in specialists:
        if persona.name not in written:
            log.fail("instruction_generation", f"{persona.name}:{sub.name}", last_error.get(persona.name, "failed"))
    return [instruction for persona, _ in specialists for instruction in written.get(persona.name, [])]
