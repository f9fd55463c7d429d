"""Checks that keep only sound pairs. Each returns the problems it found (empty = passes).

`check_draft` screens a writer's question before it goes any further; `check_answer` screens
the teacher's answer against its question. Both are registries keyed by answer format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from teams.schemas import AnswerOutput, Instruction, InstructionDraft

UNANSWERABLE = re.compile(
    r"cannot be (answered|determined)|can't be (answered|determined)|can ?not answer|unanswerable|"
    r"not (enough|sufficient) information|(insufficient|no) information|does not (say|state|mention|provide|give)|"
    r"doesn't (say|state|mention|provide|give)|not (stated|mentioned|given|provided) in the passage",
    re.IGNORECASE,
)
OPTION_LETTER = re.compile(r"^\s*(?:option\s+|answer:?\s*)?\(?([A-Z])\)?(?:[.):,\s]|$)", re.IGNORECASE)
NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")
BLANK = re.compile(r"_{3,}|\[blank\]|\(blank\)", re.IGNORECASE)


def _distinct(options: Sequence[str]) -> bool:
    normalised = [o.strip().lower() for o in options]
    return all(normalised) and len(set(normalised)) == len(normalised)


def chosen_option(final_answer: str, options: Sequence[str]) -> int | None:
    """Which option a final answer names: by letter ("B", "(B)", "B) text") or by exact text."""
    match = OPTION_LETTER.match(final_answer)
    if match:
        index = ord(match.group(1).upper()) - ord("A")
        return index if index < len(options) else None
    lowered = final_answer.strip().lower()
    for index, option in enumerate(options):
        if lowered == option.strip().lower():
            return index
    return None


# --- drafts: is the question well formed for its type? ---------------------------------------


def _draft_choice(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 3:
        return ["a multiple-choice question needs at least 3 options"]
    if not _distinct(draft.options):
        return ["multiple-choice options must be distinct and non-empty"]
    return []


def _draft_items(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 2 or not _distinct(draft.options):
        return ["needs at least 2 distinct items to match or order"]
    return []


def _draft_blank(draft: InstructionDraft) -> list[str]:
    return [] if BLANK.search(draft.question) else ["a fill-in-the-blank question needs a blank (____)"]


DRAFT_CHECKS: dict[str, Callable[[InstructionDraft], list[str]]] = {
    "multiple_choice": _draft_choice,
    "matching": _draft_items,
    "ordering": _draft_items,
    "fill_in_the_blank": _draft_blank,
}


def check_draft(draft: InstructionDraft, answer_format: str) -> list[str]:
    problems = [] if len(draft.question.strip()) >= 10 else ["question too short"]
    return problems + DRAFT_CHECKS.get(answer_format, lambda _: [])(draft)


# --- answers: does the teacher's answer fit its question? ------------------------------------


def _answer_choice(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if len(instruction.options) < 2 or not _distinct(instruction.options):
        return ["the question's options are missing or repeated"]
    if chosen_option(answer.final_answer, instruction.options) is None:
        return [f"final answer '{answer.final_answer[:40]}' names none of the {len(instruction.options)} options"]
    return []


def _answer_true_false(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    word = answer.final_answer.strip().lower().split(maxsplit=1)
    if not word or word[0].strip(".,:;!") not in ("true", "false"):
        return ["a true/false answer must start with True or False"]
    return []


def _answer_numeric(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if NUMBER.search(answer.final_answer) else ["a numeric answer must contain a number"]


def _answer_essay(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    words = len(f"{answer.explanation} {answer.final_answer}".split())
    return [] if words >= 15 else [f"an essay answer needs at least 15 words, got {words}"]


ANSWER_CHECKS: dict[str, Callable[[Instruction, AnswerOutput], list[str]]] = {
    "multiple_choice": _answer_choice,
    "true_false": _answer_true_false,
    "numeric": _answer_numeric,
    "essay": _answer_essay,
}


def says_unanswerable(answer: AnswerOutput) -> bool:
    return bool(UNANSWERABLE.search(answer.final_answer) or UNANSWERABLE.search(answer.explanation))


def check_answer(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if not answer.final_answer.strip():
        return ["empty final answer"]
    if instruction.refinement_goal == "make_unanswerable":
        # The method keeps such items on purpose: they teach when not to answer.
        return [] if says_unanswerable(answer) else ["the passage was made unanswerable but the answer does not say so"]
    if UNANSWERABLE.search(answer.final_answer):
        return ["the answer refuses a question the passage was written to answer"]
    return ANSWER_CHECKS.get(instruction.answer_format, lambda *_: [])(instruction, answer)
