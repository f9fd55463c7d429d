"""Checks on a writer's draft: is the question well formed for its answer format? Each returns
the problems it found (empty = passes); `DRAFT_CHECKS` is keyed by answer format."""

from __future__ import annotations

import re
from collections.abc import Callable

from teams.flows.checks.text import content_words, distinct, promised_examples
from teams.flows.outputs import InstructionDraft

BLANK = re.compile(r"_{3,}|\[blank\]|\(blank\)", re.IGNORECASE)


def _draft_choice(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 3:
        return ["a multiple-choice question needs at least 3 options"]
    if not distinct(draft.options):
        return ["multiple-choice options must be distinct and non-empty"]
    return []


def _draft_items(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 2 or not distinct(draft.options):
        return ["needs at least 2 distinct items to match or order"]
    return []


def _draft_blank(draft: InstructionDraft) -> list[str]:
    return [] if BLANK.search(draft.question) else ["a fill-in-the-blank question needs a blank (____)"]


def _draft_labels(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 2 or not distinct(draft.options):
        return ["a classification needs a label set of at least 2 distinct labels"]
    return []


JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_ \-]{0,40}$")


def _draft_keys(draft: InstructionDraft) -> list[str]:
    if not draft.options or not distinct(draft.options):
        return ["an extraction needs at least 1 distinct key to extract"]
    bad = [k for k in draft.options if not JSON_KEY.match(k.strip())]
    return [f"keys must be short names, not {bad[0][:30]!r}"] if bad else []


WORKED = re.compile(r"answer|output|solution|result|label|=|->|→|=>|\bA:", re.IGNORECASE)


def _draft_few_shot(draft: InstructionDraft) -> list[str]:
    examples = draft.options
    if len(examples) < 2 or not distinct(examples):
        return ["a few-shot prompt needs at least 2 distinct worked examples"]
    unworked = [e for e in examples if not WORKED.search(e)]
    if unworked:
        return [f"example {unworked[0][:40]!r} shows no worked answer"]
    promised = promised_examples(draft.question)
    if promised is not None and promised != len(examples):
        return [f"the prompt promises {promised} examples but holds {len(examples)}"]
    if any(draft.question.strip().lower() in e.lower() for e in examples):
        return ["the query repeats one of its examples"]
    return []


REFERRING = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|there|then|why|how|what about|and if|so|also|"
    r"you said|you mentioned|earlier|above|same|instead|else|more|other)\b",
    re.IGNORECASE,
)


def _draft_conversation(draft: InstructionDraft) -> list[str]:
    follow_ups = [str(f).strip() for f in getattr(draft, "follow_ups", [])]
    if len(follow_ups) < 2:
        return ["a conversation needs at least 2 follow-up turns after the first question"]
    turns = [draft.question.strip(), *follow_ups]
    if not distinct(turns):
        return ["the user's turns must all differ"]
    for index, turn in enumerate(follow_ups, start=1):
        earlier = content_words(" ".join(turns[:index]))
        if not (REFERRING.search(turn) or content_words(turn) & earlier):
            return [f"follow-up {index} ({turn[:40]!r}) does not follow from the conversation before it"]
    return []


DRAFT_CHECKS: dict[str, Callable[[InstructionDraft], list[str]]] = {
    "multiple_choice": _draft_choice,
    "matching": _draft_items,
    "ordering": _draft_items,
    "fill_in_the_blank": _draft_blank,
    "label": _draft_labels,
    "json": _draft_keys,
    "few_shot": _draft_few_shot,
    "conversation": _draft_conversation,
}


def check_draft(draft: InstructionDraft, answer_format: str) -> list[str]:
    problems = [] if len(draft.question.strip()) >= 10 else ["question too short"]
    return problems + DRAFT_CHECKS.get(answer_format, lambda _: [])(draft)
