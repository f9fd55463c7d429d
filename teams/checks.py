"""Checks that keep only sound pairs. Each returns the problems it found (empty = passes).

`check_draft` screens a writer's question before it goes any further; `check_answer` screens
the teacher's answer against its question. Both are registries keyed by answer format.
"""

from __future__ import annotations

import ast
import json
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


def _draft_labels(draft: InstructionDraft) -> list[str]:
    if len(draft.options) < 2 or not _distinct(draft.options):
        return ["a classification needs a label set of at least 2 distinct labels"]
    return []


JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_ \-]{0,40}$")


def _draft_keys(draft: InstructionDraft) -> list[str]:
    if not draft.options or not _distinct(draft.options):
        return ["an extraction needs at least 1 distinct key to extract"]
    bad = [k for k in draft.options if not JSON_KEY.match(k.strip())]
    return [f"keys must be short names, not {bad[0][:30]!r}"] if bad else []


WORKED = re.compile(r"answer|output|solution|result|label|=|->|→|=>|\bA:", re.IGNORECASE)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
PROMISED = re.compile(r"\b(\d+|two|three|four|five|six)\s+(?:worked\s+|solved\s+)?examples?\b", re.IGNORECASE)


def promised_examples(text: str) -> int | None:
    """How many examples a prompt says it gives ('the 3 examples above', 'three worked examples')."""
    match = PROMISED.search(text)
    if not match:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _draft_few_shot(draft: InstructionDraft) -> list[str]:
    examples = draft.options
    if len(examples) < 2 or not _distinct(examples):
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
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "about",
        "into",
        "than",
        "then",
        "so",
    }
)


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z'-]{2,}", text.lower()) if w not in STOPWORDS}


def _draft_conversation(draft: InstructionDraft) -> list[str]:
    follow_ups = [str(f).strip() for f in getattr(draft, "follow_ups", [])]
    if len(follow_ups) < 2:
        return ["a conversation needs at least 2 follow-up turns after the first question"]
    turns = [draft.question.strip(), *follow_ups]
    if not _distinct(turns):
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


def _norm_label(text: str) -> str:
    return text.strip().strip(".:;!\"'`*").strip().lower()


def _answer_label(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    labels = {_norm_label(label) for label in instruction.options}
    if _norm_label(answer.final_answer) not in labels:
        return [f"label '{answer.final_answer[:40]}' is not in the label set {instruction.options}"]
    return []


FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)


def parse_json_object(text: str) -> dict[str, object] | None:
    """The JSON object an answer holds (bare, or in a ```json fence); None if there is none."""
    fenced = FENCE.search(text)
    candidate = fenced.group(2) if fenced else text
    try:
        value = json.loads(candidate.strip())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _answer_json(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    value = parse_json_object(answer.final_answer)
    if value is None:
        return ["the answer is not a valid JSON object"]
    asked = {k.strip() for k in instruction.options}
    missing, extra = asked - set(value), set(value) - asked
    if missing or extra:
        return [f"JSON keys differ from those asked: missing {sorted(missing)}, extra {sorted(extra)}"]
    return []


PYTHON_TAGS = {"", "python", "py", "python3"}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, code) of every fenced block in a text."""
    return [(tag.lower(), code) for tag, code in FENCE.findall(text)]


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


ACTION = re.compile(
    r"^\s*(?:\d+[.)]\s*)?(click|type|select|hover|check|uncheck|press|scroll|go_back|goto|answer|stop)\b(.*)$",
    re.IGNORECASE,
)
ELEMENT_REF = re.compile(r"\[([\w-]+)\]")
NEEDS_ELEMENT = {"click", "type", "select", "hover", "check", "uncheck"}


def parse_actions(text: str) -> list[tuple[str, str | None]] | None:
    """(verb, element id or None) per line of an action sequence; None if a line is not an action."""
    actions: list[tuple[str, str | None]] = []
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        match = ACTION.match(line)
        if not match:
            return None
        ref = ELEMENT_REF.search(match.group(2))
        actions.append((match.group(1).lower(), ref.group(1) if ref else None))
    return actions or None


def _answer_actions(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    actions = parse_actions(answer.final_answer)
    if actions is None:
        return ['the answer must be browser actions, one per line (click [id], type [id] "text", ...)']
    missing = [verb for verb, ref in actions if verb in NEEDS_ELEMENT and ref is None]
    return [f"a '{missing[0]}' action names no element [id]"] if missing else []


CITATION = re.compile(r"\[(\d+)\]")


def _answer_grounded(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    if says_unanswerable(answer) or CITATION.search(answer.final_answer):
        return []
    return ["a grounded answer must cite the passages it uses, as [1], [2], ..."]


def _answer_few_shot(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    return [] if len(answer.explanation.split()) >= 5 else ["a few-shot answer must work the query out step by step"]


def _answer_conversation(instruction: Instruction, answer: AnswerOutput) -> list[str]:
    replies = [str(r).strip() for r in getattr(answer, "follow_up_replies", [])]
    if len(replies) != len(instruction.follow_ups):
        return [f"{len(instruction.follow_ups)} follow-up turns but {len(replies)} replies"]
    if any(len(r.split()) < 3 for r in replies):
        return ["every follow-up reply needs at least 3 words"]
    if not _distinct([answer.final_answer, *replies]):
        return ["the replies repeat one another"]
    return []


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
    "conversation": _answer_conversation,
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
