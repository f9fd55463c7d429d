"""Checks on the teacher's answer: does it fit its question? Each returns the problems it found
(empty = passes); `ANSWER_CHECKS` is keyed by answer format."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from teams.flows.checks.conversation import check_conversation_answer
from teams.flows.checks.text import (
    CITATION,
    NEEDS_ELEMENT,
    NUMBER,
    PYTHON_TAGS,
    UNANSWERABLE,
    chosen_option,
    code_blocks,
    distinct,
    parse_actions,
    parse_json_object,
)
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction


def _answer_choice(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if len(instruction.options) < 2 or not distinct(instruction.options):
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


def _norm_label(text: str) -> str:
    return text.strip().strip(".:;!\"'`*").strip().lower()


def _answer_label(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    labels = {_norm_label(label) for label in instruction.options}
    if _norm_label(answer.final_answer) not in labels:
        return [f"label '{answer.final_answer[:40]}' is not in the label set {instruction.options}"]
    return []


def _answer_json(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    value = parse_json_object(answer.final_answer)
    if value is None:
        return ["the answer is not a valid JSON object"]
    asked = {k.strip() for k in instruction.options}
    missing, extra = asked - set(value), set(value) - asked
    if missing or extra:
        return [f"JSON keys differ from those asked: missing {sorted(missing)}, extra {sorted(extra)}"]
    return []


def _answer_code(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    python = [code for tag, code in code_blocks(f"{answer.explanation}\n{answer.final_answer}") if tag in PYTHON_TAGS]
    if not python:
        return ["the answer has no fenced Python code block"]
    for code in python:
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return [f"the answer's Python does not parse: {exc.msg} (line {exc.lineno})"]
    return []


MAGNITUDE = re.compile(
    r"\d[\d,]*(\.\d+)?\s*(x|×|\*)\s*10\s*\^?\s*-?\d+|10\s*\^\s*-?\d+|\d[\d,]*(\.\d+)?\s*(e-?\d+)?|"
    r"\b(thousand|million|billion|trillion)s?\b",
    re.IGNORECASE,
)
ASSUMPTION = re.compile(r"\bassum|\bsuppos|\bestimat|\broughly\b|\babout\b|\bapproximately\b|\btypical", re.IGNORECASE)


def _answer_estimate(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    problems = []
    if not MAGNITUDE.search(answer.final_answer):
        problems.append("an estimate must give a number or an order of magnitude")
    if not ASSUMPTION.search(answer.explanation) or len(NUMBER.findall(answer.explanation)) < 2:
        problems.append("an estimate must state its assumptions, with at least 2 numbers, in the explanation")
    return problems


def _answer_actions(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    actions = parse_actions(answer.final_answer)
    if actions is None:
        return ['the answer must be browser actions, one per line (click [id], type [id] "text", ...)']
    missing = [verb for verb, ref in actions if verb in NEEDS_ELEMENT and ref is None]
    return [f"a '{missing[0]}' action names no element [id]"] if missing else []


def _answer_grounded(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if says_unanswerable(answer) or CITATION.search(answer.final_answer):
        return []
    return ["a grounded answer must cite the passages it uses, as [1], [2], ..."]


def _answer_few_shot(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if len(answer.explanation.split()) >= 5 else ["a few-shot answer must work the query out step by step"]


def _answer_rewrite(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if " ".join(answer.final_answer.split()).lower() == " ".join(instruction.passage.split()).lower():
        return ["the modified text is the original, unchanged"]
    return [] if len(answer.final_answer.split()) >= 3 else ["the modified text is too short"]


def _answer_prose(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    words = len(answer.final_answer.split())
    return [] if words >= 15 else [f"the text needs at least 15 words, got {words}"]


def _answer_creative(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    lines = [line for line in answer.final_answer.splitlines() if line.strip()]
    if len(answer.final_answer.split()) >= 30 or len(lines) >= 4:
        return []
    return ["a creative piece needs at least 30 words or 4 lines"]


ANSWER_CHECKS: dict[str, Callable[[Instruction, AnswerOutput], list[str]]] = {
    "multiple_choice": _answer_choice,
    "true_false": _answer_true_false,
    "numeric": _answer_numeric,
    "essay": _answer_essay,
    "label": _answer_label,
    "json": _answer_json,
    "code": _answer_code,
    "estimate": _answer_estimate,
    "actions": _answer_actions,
    "grounded": _answer_grounded,
    "few_shot": _answer_few_shot,
    "conversation": check_conversation_answer,
    "rewrite": _answer_rewrite,
    "prose": _answer_prose,
    "creative": _answer_creative,
}
# Long answers (a story, a rewrite, code) may say "no information" in passing: only their
# opening is read for a refusal.
LONG_FORMS = {"code", "conversation", "rewrite", "prose", "creative"}


def says_unanswerable(answer: AnswerOutput) -> bool:
    return bool(UNANSWERABLE.search(answer.final_answer) or UNANSWERABLE.search(answer.explanation))


def check_answer(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if not answer.final_answer.strip():
        return ["empty final answer"]
    if instruction.refinement_goal == "make_unanswerable":
        # The method keeps such items on purpose: they teach when not to answer.
        return [] if says_unanswerable(answer) else ["the passage was made unanswerable but the answer does not say so"]
    opening = answer.final_answer[:200] if instruction.answer_format in LONG_FORMS else answer.final_answer
    if UNANSWERABLE.search(opening):
        return ["the answer refuses a question the passage was written to answer"]
    return ANSWER_CHECKS.get(instruction.answer_format, lambda *_: [])(instruction, answer)
