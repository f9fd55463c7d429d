"""What the document skills share: the generic flow of the method (teams.flows.seed) and a record
of one user turn and one assistant turn, shaped as the skill's taxonomy says (`record:`).

A skill module makes one `PromptSkill` and adds only the checks that are truly its own (they
run after the answer format's checks in teams.flows.checks).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from retrieval.seeds import Seed
from taxonomies import RecordFormat, Subcategory, TaxonomyError, load_taxonomy
from teams.flows.checks import check_answer
from teams.flows.formatting import format_instruction
from teams.flows.outputs import AnswerOutput, InstructionDraft
from teams.flows.prompts import render_template
from teams.flows.runtime import FlowEnv, SeedLog
from teams.flows.seed import document_records
from teams.flows.skill import ROLES
from teams.flows.types import Instruction, Message, Record

AnswerCheck = Callable[[Instruction, AnswerOutput], list[str]]
DraftCheck = Callable[[InstructionDraft, Subcategory], list[str]]

PASSAGE_WORDS = re.compile(r"\b(the|this|above|following) (passage|text|article|excerpt|document)\b", re.IGNORECASE)


def reply_text(answer: AnswerOutput, style: str) -> str:
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
    """A one-turn document skill: the user turn built from the skill's `record.user_turn` (of
    `passage`, the transformed seed, and `instruction`, the question with its options, labels,
    keys or examples), the reply in its `record.reply` style."""

    name: str
    draft_checks: list[DraftCheck] = field(default_factory=list)
    answer_checks: list[AnswerCheck] = field(default_factory=list)
    roles: ClassVar[list[str]] = ROLES
    empty_reason: ClassVar[str] = "no instruction survived the checks"

    @cached_property
    def record_format(self) -> RecordFormat:
        record = load_taxonomy(self.name).record
        if record is None:
            raise TaxonomyError(f"taxonomies/{self.name}.yaml has no 'record:' (how its records read)")
        return record

    async def make_records(self, env: FlowEnv, log: SeedLog, seed: Seed, rng: random.Random) -> list[Record]:
        return await document_records(env, log, seed, rng, self)

    def instruction_text(self, instruction: Instruction) -> str:
        """The instruction as the user turn shows it (what near-duplicate search compares)."""
        return format_instruction(instruction)

    def user_turn(self, instruction: Instruction) -> str:
        return render_template(
            self.record_format.user_turn,
            passage=instruction.passage.strip(),
            instruction=self.instruction_text(instruction),
        )

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        return [
            Message(role="user", content=self.user_turn(instruction)),
            Message(role="assistant", content=reply_text(answer, self.record_format.reply)),
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
