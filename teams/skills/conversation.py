"""Conversation: a multi-turn record that is a real conversation. The user (a user-simulator
persona) brings a text and a first question; the assistant (the teacher) answers; the user reads
the answer and writes the next turn, picking up something it said, until `turns` user turns or
until the user's need is met. Both speak in one AutoGen group chat, so turn k+1 is written after
answer k, and the record holds the alternation as it happened.

Run it as `python -m teams.skills.conversation --seeds PATH`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from autogen_agentchat.conditions import FunctionalTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage

from agents.factory import build_agent
from agents.personas import Persona
from retrieval.seeds import Seed
from teams.flows.checks.conversation import MIN_USER_TURNS
from teams.flows.outputs import AnswerOutput, ConversationAnswer, ConversationTurn, UserTurnOutput
from teams.flows.runtime import FlowEnv, SeedLog, run_team, weighted_pick
from teams.flows.seed import document_records
from teams.flows.skill import ROLES
from teams.flows.types import Instruction, Message, Record, TeamTranscript
from teams.skills.base import PromptSkill, reply_text
from teams.skills.script import run_as_script


def _user_done(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> bool:
    last = messages[-1] if messages else None
    return isinstance(last, StructuredMessage) and isinstance(last.content, UserTurnOutput) and last.content.done


def _conversation(opening: str, outputs: Sequence[tuple[str, object]]) -> ConversationAnswer | None:
    """The chat's structured answers as turns: each user turn with the reply that followed it; a
    closing `done` turn ends the conversation and is not part of it."""
    turns: list[ConversationTurn] = []
    asked: tuple[str, str] | None = (opening, "")
    for _, output in outputs:
        if isinstance(output, UserTurnOutput):
            if output.done:
                break
            asked = (output.message.strip(), output.refers_to.strip())
        elif isinstance(output, AnswerOutput) and asked is not None:
            turns.append(ConversationTurn(user=asked[0], refers_to=asked[1], reply=output))
            asked = None
    if not turns:
        return None
    first = turns[0].reply
    return ConversationAnswer(explanation=first.explanation, final_answer=first.final_answer, turns=turns)


async def converse(
    env: FlowEnv, log: SeedLog, instruction: Instruction, teacher: Persona, simulator: Persona, opening: str
) -> tuple[AnswerOutput, int] | None:
    """The conversation that passes the checks, with the tokens it took; None if none did."""
    sub = next((s for s in env.taxonomy.subcategories if s.name == instruction.subcategory), None)
    context = {
        "skill": env.skill,
        "conversation_type": {"name": instruction.subcategory, "description": sub.description if sub else ""},
        "ideas": list(instruction.follow_ups),
    }
    turns = max(MIN_USER_TURNS, env.settings.turns)
    step = f"conversation:{instruction.key}"
    problems = ["no conversation"]
    for attempt in range(1, env.settings.max_attempts + 1):
        record = TeamTranscript(flow="answer", step=step, attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        agents = [
            build_agent(teacher, env.pool, AnswerOutput, {"skill": env.skill}),
            build_agent(simulator, env.pool, UserTurnOutput, context),
        ]
        outputs = await run_team(
            agents, [AnswerOutput, UserTurnOutput], opening, 2 * turns - 1, record, FunctionalTermination(_user_done)
        )
        conversation = _conversation(opening, outputs) if record.status == "ok" else None
        if conversation is None:
            problems = [record.error or "the assistant did not answer"]
            continue
        problems = env.answer_problems(instruction, conversation)
        if not problems:
            return conversation, sum(m.prompt_tokens + m.completion_tokens for m in record.messages)
        record.status, record.error = "invalid", "; ".join(problems)
    log.fail("answer", step, "; ".join(problems))
    return None


class Conversation(PromptSkill):
    roles: ClassVar[list[str]] = [*ROLES, "user_simulator"]

    def instruction_text(self, instruction: Instruction) -> str:
        """The first turn asks the question alone; the follow-ups come as later turns."""
        return instruction.question.strip()

    async def make_records(self, env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random) -> list[Record]:
        simulator = weighted_pick(rng, env.library.pool("user_simulator", env.skill), 1)[0]

        async def answerer(env: FlowEnv, log: SeedLog, inst: Instruction, teacher: Persona) -> tuple[AnswerOutput, int] | None:
            return await converse(env, log, inst, teacher, simulator, self.user_turn(inst))

        return await document_records(env, log, seed, rng, self, answerer, {"user_simulator": simulator.name})

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        turns = answer.turns if isinstance(answer, ConversationAnswer) else []
        messages: list[Message] = []
        for turn in turns:
            messages += [
                Message(role="user", content=turn.user),
                Message(role="assistant", content=reply_text(turn.reply, self.record_format.reply)),
            ]
        return messages


# The conversation format's checks (teams.flows.checks.conversation) hold the rest: at least 2 user
# turns, each after the first picking up an earlier answer, none the same, distinct replies.
SKILL = Conversation(name="conversation")

if __name__ == "__main__":
    run_as_script(SKILL.name)
