"""Open-domain question answering: a question that stands on its own (the seed only inspired it)
and an answer from general knowledge; the record shows no passage.

Run it as `python -m teams.skills.open_domain_question_answering --seeds PATH` (the same options
as `agentinstruct run open_domain_question_answering`).
"""

from __future__ import annotations

import re

from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill, self_contained
from teams.skills.script import run_as_script

MENTIONS_PASSAGE = re.compile(
    r"\b(the|this) (passage|text|article|excerpt)\b|according to the (passage|text)", re.IGNORECASE
)


def no_hidden_source(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    """The user never sees the seed, so the answer may not lean on it."""
    if MENTIONS_PASSAGE.search(f"{answer.explanation} {answer.final_answer}"):
        return ["the answer cites a passage the user never saw"]
    return []


SKILL = PromptSkill(
    name="open_domain_question_answering",
    draft_checks=[self_contained],
    answer_checks=[no_hidden_source],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
