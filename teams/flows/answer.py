"""The teacher: answers each final instruction; an answer is kept only when it passes the checks
of its answer format (and the skill's own), after a bounded number of attempts."""

from __future__ import annotations

from agents.factory import build_agent
from agents.personas import Persona
from teams.flows.formatting import format_instruction
from teams.flows.outputs import AnswerOutput, answer_output_for
from teams.flows.prompts import Prompts
from teams.flows.runtime import FlowEnv, SeedLog, json_hint, run_team
from teams.flows.types import Instruction, TeamTranscript

PROMPTS = Prompts.of_step("answer")


async def answer(
    env: FlowEnv, log: SeedLog, instruction: Instruction, teacher: Persona
) -> tuple[AnswerOutput, int] | None:
    """The teacher's answer that passes the checks, with the tokens it took; None if none did."""
    answer_type = answer_output_for(instruction)
    task = PROMPTS.render(
        "task", passage=instruction.passage, question=format_instruction(instruction), json_hint=json_hint(answer_type)
    )
    problems = ["no answer"]
    for attempt in range(1, env.settings.max_attempts + 1):
        record = TeamTranscript(flow="answer", step=f"answer:{instruction.key}", attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        agent = build_agent(teacher, env.pool, answer_type, {"skill": env.skill})
        outputs = await run_team([agent], [answer_type], task, 1, record)
        answers = [o for _, o in outputs if isinstance(o, AnswerOutput)]
        if not answers:
            problems = [record.error or "no answer"]
            continue
        problems = env.answer_problems(instruction, answers[0])
        if not problems:
            tokens = sum(m.prompt_tokens + m.completion_tokens for m in record.messages)
            return answers[0], tokens
        record.status, record.error = "invalid", "; ".join(problems)
    log.fail("answer", f"answer:{instruction.key}", "; ".join(problems))
    return None
