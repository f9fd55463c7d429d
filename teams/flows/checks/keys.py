"""Verification of the teacher against what is already known of a pair: the instruction writer's
answer key (the teacher must agree with it), and for a `flip_answer` child, the teacher's answer to
its parent (the edit must really have changed the answer). Each reads an answer down to a
comparable key per format; None where it cannot be read (then there is nothing to verify)."""

from __future__ import annotations

import re
from collections.abc import Callable

from teams.flows.checks.text import NUMBER, chosen_option
from teams.flows.outputs import AnswerOutput
from teams.flows.types import Instruction

KEY_DISAGREEMENT = "key disagreement"
FLIP_UNCHANGED = "flip unchanged"
FLIP_UNVERIFIED = "flip unverified"
PAIR = re.compile(r"\b([A-Za-z0-9]{1,3})\s*(?:-+>?|=>?|:|→|–|—|\bmatches\b|\bgoes with\b)\s*([A-Za-z0-9]{1,3})\b")
TOKEN = re.compile(r"[a-z0-9]+")


def _choice(text: str, inst: Instruction) -> str | None:
    index = chosen_option(text, inst.options)
    return None if index is None else chr(ord("A") + index)


def _truth(text: str, inst: Instruction) -> str | None:
    words = text.strip().lower().split(maxsplit=1)
    word = words[0].strip(".,:;!*") if words else ""
    return word if word in ("true", "false") else None


def _number(text: str, inst: Instruction) -> str | None:
    found = NUMBER.search(text)
    if not found:
        return None
    try:
        return f"{float(found.group(0).replace(',', '')):.6g}"
    except ValueError:
        return None


def _blank(text: str, inst: Instruction) -> str | None:
    tokens = TOKEN.findall(text.lower())
    return " ".join(tokens) or None


def _ordering(text: str, inst: Instruction) -> str | None:
    """The order as its labels: letters or numbers, or the options' own words ("B, A, C")."""
    labels = re.findall(r"\b([A-Z]|\d{1,2})\b", text)
    return ",".join(labels) if len(labels) >= 2 else _blank(text, inst)


def _matching(text: str, inst: Instruction) -> str | None:
    pairs = PAIR.findall(text)
    if len(pairs) < 2:
        return _blank(text, inst)
    return ",".join(sorted(f"{a.lower()}-{b.lower()}" for a, b in pairs))


#: formats with a comparable key; the first three are those a flip is verified on
KEYED: dict[str, Callable[[str, Instruction], str | None]] = {
    "multiple_choice": _choice,
    "true_false": _truth,
    "numeric": _number,
    "fill_in_the_blank": _blank,
    "ordering": _ordering,
    "matching": _matching,
}
FLIP_FORMATS = ("multiple_choice", "true_false", "numeric")


def answer_key(instruction: Instruction, text: str) -> str | None:
    read = KEYED.get(instruction.answer_format)
    return read(text, instruction) if read and text.strip() else None


Verdict = tuple[str, str]  # (reason, detail): why a pair is dropped, and what each answer said


def key_problem(instruction: Instruction, answer: AnswerOutput) -> Verdict | None:
    """`key disagreement` (and what each said) when the writer gave a readable key and the
    teacher's final answer reads otherwise; a blank is also agreed when the key is among its words."""
    key = answer_key(instruction, instruction.answer_key)
    if key is None:
        return None
    said = answer_key(instruction, answer.final_answer)
    if said == key or (instruction.answer_format == "fill_in_the_blank" and said and f" {key} " in f" {said} "):
        return None
    return (
        KEY_DISAGREEMENT,
        f"the writer's key is {instruction.answer_key[:40]!r}, the teacher answered {answer.final_answer[:40]!r}",
    )


def flip_problem(
    child: Instruction, answer: AnswerOutput, parent: Instruction, parent_answer: AnswerOutput | None
) -> Verdict | None:
    """A `flip_answer` child of a keyed format whose answer is the parent's: the edit changed nothing."""
    if child.refinement_goal != "flip_answer" or child.answer_format not in FLIP_FORMATS:
        return None
    if parent_answer is None:
        return FLIP_UNVERIFIED, f"the parent {parent.key} has no answer to compare with"
    before, after = answer_key(parent, parent_answer.final_answer), answer_key(child, answer.final_answer)
    if before is None or after is None:
        return FLIP_UNVERIFIED, f"an answer could not be read as a {child.answer_format} key"
    if before == after:
        return FLIP_UNCHANGED, f"the answer is still {answer.final_answer[:40]!r}, as for {parent.key}"
    return None
