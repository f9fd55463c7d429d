"""What the checks read in a text: option letters, numbers, refusals, content words, JSON
objects and code blocks, promised example counts, browser actions, citations."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

UNANSWERABLE = re.compile(
    r"cannot be (answered|determined)|can't be (answered|determined)|can ?not answer|unanswerable|"
    r"not (enough|sufficient) information|(insufficient|no) information|does not (say|state|mention|provide|give)|"
    r"doesn't (say|state|mention|provide|give)|not (stated|mentioned|given|provided) in the passage",
    re.IGNORECASE,
)
OPTION_LETTER = re.compile(r"^\s*(?:option\s+|answer:?\s*)?\(?([A-Z])\)?(?:[.):,\s]|$)", re.IGNORECASE)
NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")


def distinct(options: Sequence[str]) -> bool:
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


STOPWORDS = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "but", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "with", "as", "by", "at", "from", "what", "which", "who", "whom", "how", "why", "when", "where", "do", "does", "did", "can", "could", "would", "should", "will", "about", "into", "than", "then", "so"]
)


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z'-]{2,}", text.lower()) if w not in STOPWORDS}


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


PYTHON_TAGS = {"", "python", "py", "python3"}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, code) of every fenced block in a text."""
    return [(tag.lower(), code) for tag, code in FENCE.findall(text)]


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
PROMISED = re.compile(r"\b(\d+|two|three|four|five|six)\s+(?:worked\s+|solved\s+)?examples?\b", re.IGNORECASE)


def promised_examples(text: str) -> int | None:
    """How many examples a prompt says it gives ('the 3 examples above', 'three worked examples')."""
    match = PROMISED.search(text)
    if not match:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


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


CITATION = re.compile(r"\[(\d+)\]")
