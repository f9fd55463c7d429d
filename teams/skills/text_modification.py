"""Text modification: the seed as it is (no transformation step), one of the method's 18
modification tasks per seed, and the modified text as the answer. Refinement layers a fictional
narrative, a rhyming poem or a social-media framing onto the task.

Run it as `python -m teams.skills.text_modification --seeds PATH`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from teams.flows.checks import content_words
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction
from teams.skills.base import PromptSkill
from teams.skills.script import run_as_script

STRUCTURE = re.compile(r"^\s*([-*•]|\d+[.)]|#{1,6} |\|)", re.MULTILINE)
MARKUP = re.compile(r"\[[^\]]+\]|<[a-z]+[^>]*>|\*\*[^*]+\*\*|\([A-Z]{2,}[^)]*\)")
SOCIAL = re.compile(r"#\w+|@\w+|[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def _words(text: str) -> int:
    return len(text.split())


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _longer(inst: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if _words(answer.final_answer) > _words(inst.passage) else ["an expansion must be longer than the text"]


def _shorter(inst: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if _words(answer.final_answer) < _words(inst.passage) else ["removing text must leave it shorter"]


def _not_longer(inst: Instruction, answer: AnswerOutput) -> list[str]:
    limit = 1.2 * _words(inst.passage)
    return [] if _words(answer.final_answer) <= limit else ["a simplification may not be much longer than the text"]


def _similar_length(inst: Instruction, answer: AnswerOutput) -> list[str]:
    ratio = _words(answer.final_answer) / max(1, _words(inst.passage))
    return [] if 0.5 <= ratio <= 2.0 else [f"a paraphrase keeps about the text's length (ratio {ratio:.1f})"]


def _translated(inst: Instruction, answer: AnswerOutput) -> list[str]:
    source = content_words(inst.passage)
    shared = len(source & content_words(answer.final_answer)) / max(1, len(source))
    return [] if shared < 0.5 else [f"a translation shares {shared:.0%} of the original's words: not translated"]


def _structured(inst: Instruction, answer: AnswerOutput) -> list[str]:
    return (
        []
        if STRUCTURE.search(answer.final_answer)
        else ["formatting must give the text structure (list, headings, table)"]
    )


def _annotated(inst: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if MARKUP.search(answer.final_answer) else ["an annotation must mark up the text (brackets, tags, bold)"]


def _case_changed(inst: Instruction, answer: AnswerOutput) -> list[str]:
    pairs = zip(answer.final_answer.split(), inst.passage.split(), strict=False)
    if any(a != b and a.lower() == b.lower() for a, b in pairs):
        return []
    return ["capitalization must change the case of some of the text's words"]


# What each task type must show in its answer (before any refinement reframes it).
TASK_CHECKS: dict[str, Callable[[Instruction, AnswerOutput], list[str]]] = {
    "text_expansion": _longer,
    "text_removing": _shorter,
    "text_simplification": _not_longer,
    "paraphrasing": _similar_length,
    "plagiarism_rewording": _similar_length,
    "text_translation": _translated,
    "text_formatting": _structured,
    "text_annotation": _annotated,
    "text_capitalization": _case_changed,
}


def _poem(inst: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if _lines(answer.final_answer) >= 4 else ["the task asks for a rhyming poem: at least 4 lines"]


def _social(inst: Instruction, answer: AnswerOutput) -> list[str]:
    if SOCIAL.search(inst.passage) or SOCIAL.search(inst.question) or SOCIAL.search(answer.final_answer):
        return []
    return ["a social-media framing needs hashtags, handles or emojis"]


# What each refinement's framing must show.
GOAL_CHECKS: dict[str, Callable[[Instruction, AnswerOutput], list[str]]] = {
    "rhyming_poem": _poem,
    "social_media_post": _social,
}


def task_fits(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if instruction.refinement_goal:
        check = GOAL_CHECKS.get(instruction.refinement_goal)
    else:
        check = TASK_CHECKS.get(instruction.subcategory)
    return check(instruction, answer) if check else []


SKILL = PromptSkill(
    name="text_modification",
    answer_checks=[task_fits],
)

if __name__ == "__main__":
    run_as_script(SKILL.name)
