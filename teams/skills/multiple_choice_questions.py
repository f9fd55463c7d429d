"""Multiple-choice questions: a self-contained question with four distinct options and exactly
one keyed answer, which the teacher's answer must agree with.

Run it as `python -m teams.skills.multiple_choice_questions --seeds PATH`.
"""

from __future__ import annotations

import re

from taxonomies import Subcategory
from teams.flows.checks import chosen_option
from teams.flows.outputs import AnswerOutput, InstructionDraft
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill, self_contained
from teams.skills.script import run_as_script

LETTER = re.compile(r"\b[A-F]\b")


def one_keyed_answer(draft: InstructionDraft, sub: Subcategory) -> list[str]:
    """The writer's key names exactly one of the options."""
    key = draft.answer.strip()
    if chosen_option(key, draft.options) is None or len(LETTER.findall(key)) > 1:
        return [f"the key {key[:20]!r} must name exactly one of the {len(draft.options)} options"]
    return []


def agrees_with_key(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """Where the writer's key survives (unrefined items), teacher and key must agree: a
    disagreement means two defensible options, which an MCQ may not have."""
    if not instruction.answer_key:
        return []
    key = chosen_option(instruction.answer_key, instruction.options)
    chosen = chosen_option(answer.final_answer, instruction.options)
    if key is not None and chosen != key:
        return [f"the answer {answer.final_answer[:10]!r} disagrees with the key {instruction.answer_key[:10]!r}"]
    return []


SKILL = PromptSkill(
    name="multiple_choice_questions",
    draft_checks=[self_contained, one_keyed_answer],
    answer_checks=[agrees_with_key],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
