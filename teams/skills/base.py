"""What most skills share: a record of one user turn and one assistant turn, shaped by a template.

A skill module makes one `PromptSkill` with its template and reply style, and adds only the
checks that are truly its own (they run after the answer format's checks in teams.checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from taxonomies import Subcategory
from teams.checks import check_answer
from teams.flows import format_instruction
from teams.schemas import AnswerOutput, Instruction, InstructionDraft, Message

AnswerCheck = Callable[[Instruction, AnswerOutput], list[str]]
DraftCheck = Callable[[InstructionDraft, Subcategory], list[str]]
# How the assistant's turn is written: the reasoning then "Final answer: X" (short answers), the
# reasoning then the answer itself (code, estimates), or the answer alone (rewrites, stories, JSON).
ReplyStyle = Literal["labelled", "explained", "answer_only"]

PASSAGE_WORDS = re.compile(r"\b(the|this|above|following) (passage|text|article|excerpt|document)\b", re.IGNORECASE)


def reply_text(answer: AnswerOutput, style: ReplyStyle) -> str:
    explanation, final = answer.explanation.strip(), answer.final_answer.strip()
    if style == "answer_only" or not explanation:
        return final
    if style == "labelled":
        return f"{explanation}\n\nFinal answer: {final}"
    return f"{explanation}\n\n{final}"


def self_contained(draft: InstructionDraft, sub: Subcategory) -> list[str]:
    """For skills whose record shows the question without the seed: it may not point at a text."""
    if PASSAGE_WORDS.search(draft.question):
        return ["the question refers to a passage the user will not see; it must stand alone"]
    return []


@dataclass
class PromptSkill:
    """A one-turn skill. `template` builds the user turn from `{passage}` (the transformed seed)
    and `{instruction}` (the question with its options, labels, keys or examples)."""

    name: str
    template: str
    reply: ReplyStyle = "labelled"
    draft_checks: list[DraftCheck] = field(default_factory=list)
    answer_checks: list[AnswerCheck] = field(default_factory=list)

    def instruction_text(self, instruction: Instruction) -> str:
        """The instruction as the user turn shows it (what near-duplicate search compares)."""
        return format_instruction(instruction)

    def user_turn(self, instruction: Instruction) -> str:
        return self.template.format(passage=instruction.passage.strip(), instruction=self.instruction_text(instruction))

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        return [
            Message(role="user", content=self.user_turn(instruction)),
            Message(role="assistant", content=reply_text(answer, self.reply)),
        ]

    def check_draft(self, draft: InstructionDraft, sub: Subcategory) -> list[str]:
        """The skill's own screening of a writer's draft (the format's runs before it)."""
        return [problem for check in self.draft_checks for problem in check(draft, sub)]

    def check_answer(self, instruction: Instruction, answer: AnswerOutput) -> list[str]:
        """The generic checks for the answer's format, then the skill's own."""
        problems = check_answer(instruction, answer)
        if problems:
            return problems
        return [problem for check in self.answer_checks for problem in check(instruction, answer)]


def run_as_script(skill: str) -> None:
    from teams.cli import run_skill_script

    run_skill_script(skill)
