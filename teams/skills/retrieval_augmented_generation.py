"""Retrieval-augmented generation: the seed becomes numbered retrieved passages, some relevant
and some distractors; the answer is grounded in them, citing them, or says they do not suffice.

Run it as `python -m teams.skills.retrieval_augmented_generation --seeds PATH`.
"""

from __future__ import annotations

import re

from teams.flows.checks import CITATION, check_answer, content_words, says_unanswerable
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

PASSAGE_HEAD = re.compile(r"^\s*\[(\d+)\]", re.MULTILINE)
MIN_PASSAGES = 3
NOT_ENOUGH = "insufficient_context"  # the subcategory whose questions the passages cannot answer
INSUFFICIENT = re.compile(
    r"(passages|sources|context|documents|results) (do not|don't|does not|doesn't|fail to) "
    r"(give|contain|hold|provide|say|mention|include|answer|cover)",
    re.IGNORECASE,
)


def says_insufficient(answer: AnswerOutput) -> bool:
    return says_unanswerable(answer) or bool(INSUFFICIENT.search(f"{answer.final_answer} {answer.explanation}"))


def passage_numbers(text: str) -> set[str]:
    return set(PASSAGE_HEAD.findall(text))


class RetrievalAugmentedGeneration(PromptSkill):
    def check_answer(self, instruction: Instruction, answer: AnswerOutput) -> list[str]:
        numbers = passage_numbers(instruction.passage)
        if len(numbers) < MIN_PASSAGES:
            return [f"the prompt must hold at least {MIN_PASSAGES} numbered retrieved passages ([1] ...)"]
        if instruction.subcategory == NOT_ENOUGH or instruction.refinement_goal == "make_unanswerable":
            return [] if says_insufficient(answer) else ["the passages do not hold the answer, and it must say so"]
        problems = check_answer(instruction, answer)
        if problems:
            return problems
        cited = set(CITATION.findall(answer.final_answer))
        if cited - numbers:
            return [f"the answer cites passages that were not retrieved: {sorted(cited - numbers)}"]
        words = content_words(answer.final_answer)
        grounded = len(words & content_words(instruction.passage)) / max(1, len(words))
        return [] if grounded >= 0.5 else [f"only {grounded:.0%} of the answer's words come from the passages"]


SKILL = RetrievalAugmentedGeneration(
    name="retrieval_augmented_generation",
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
