"""Conversation: a multi-turn record. The user brings a text and a first question, then asks
follow-ups that build on the answers; the assistant replies to every turn.

Run it as `python -m teams.skills.conversation --seeds PATH`.
"""

from __future__ import annotations

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction, Message
from teams.skills.base import PromptSkill, reply_text
from teams.skills.script import run_as_script


class Conversation(PromptSkill):
    def instruction_text(self, instruction: Instruction) -> str:
        """The first turn asks the question alone; the follow-ups come as later turns."""
        return instruction.question.strip()

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        first = self.user_turn(instruction)
        turns = [Message(role="user", content=first), Message(role="assistant", content=reply_text(answer, self.record_format.reply))]
        replies = getattr(answer, "follow_up_replies", [])
        for question, reply in zip(instruction.follow_ups, replies, strict=True):
            turns += [Message(role="user", content=question), Message(role="assistant", content=str(reply).strip())]
        return turns


# The conversation format's checks (teams.flows.checks) hold the rest: at least 2 distinct follow-ups
# that each build on what came before, and one reply per turn.
SKILL = Conversation(name="conversation")

if __name__ == "__main__":
    run_as_script(SKILL.name)
