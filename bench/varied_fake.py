"""A fake model whose questions vary as a real model's do, for `bench/throughput.py`'s workloads.

The tests' competent fake (`tests.fakes.competent_responder`) writes one question template for
every passage ("Which statement is best supported (qN)? ...", edits "Edited question N ____?" on
the passage plus "(edited N.K)"): nearly every record of a seed is then a near duplicate of
another by the rule, and near-duplicate search embeds nearly every instruction and passage. This
one answers like it, except that the instruction writer and the editor write questions from a
dozen stems about words of the passage, with options drawn from it, and an edit drops a sentence
of the passage instead of tagging it. Deterministic for the same requests in the same order.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import count
from typing import Any

from tests.fakes import (
    UNANSWERABLE_MARK,
    _option_count,
    _passage,
    _schema,
    _task_text,
    competent_responder,
    schema_kind,
)

STEMS = (
    "What does the passage say about {a}?",
    "Which statement about {a} is best supported by the passage?",
    "According to the passage, how is {a} related to {b}?",
    "Why does the passage mention {a}?",
    "What can be inferred about {a} from the passage?",
    "Which detail about {a} does the passage give first?",
    "What is the main purpose of {a} as the passage describes it?",
    "How does the passage explain {a} in relation to {b}?",
    "Which of these would the author most likely say about {a}?",
    "What would change if {a} were used without {b}?",
    "Which claim about {b} does the passage not support?",
    "In the passage, what role does {a} play for {b}?",
)
_calls = count(1)


def _pick(seq: list[str] | tuple[str, ...], *keys: object) -> str:
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return seq[int.from_bytes(digest[:4], "big") % len(seq)]


def _terms(passage: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"[A-Za-z_]{5,}", passage))) or ["the text"]


def _question(passage: str, *keys: object) -> tuple[str, list[str]]:
    terms = _terms(passage)
    a, b = _pick(terms, "a", *keys), _pick(terms, "b", *keys)
    options = [_pick(terms, "option", i, *keys) for i in range(4)]
    return _pick(STEMS, "stem", *keys).format(a=a, b=b), options


def varied_responder(request: dict[str, Any]) -> str:
    kind = schema_kind(request)
    if kind not in ("instructions", "edits"):
        return competent_responder(request)
    n = next(_calls)
    task = _task_text(request)
    passage = _passage(task)
    options = _option_count(request)
    if kind == "instructions":
        first, first_options = _question(passage, task, n, 1)
        second, second_options = _question(passage, task, n, 2)
        questions = [(f"{first} Fill ____ if needed.", first_options), (f"{second} Answer ____.", second_options)]
        return json.dumps(
            {"instructions": [{"question": q, "options": o[:options], "answer": "A"} for q, o in questions]}
        )
    sentences = re.split(r"(?<=[.!?])\s+", passage)
    size = _schema(request)["properties"]["edits"]["minItems"]
    edits = []
    for k in range(1, size + 1):
        dropped = (n + k) % len(sentences)
        edited = " ".join(s for i, s in enumerate(sentences) if i != dropped or len(sentences) == 1)
        if "make_unanswerable" in task:  # the sentence that answered it is gone
            edited = f"{edited} {UNANSWERABLE_MARK}"
        question, edit_options = _question(passage, task, n, "edit", k)
        edits.append({"passage": edited, "question": f"{question} ____?", "options": edit_options[:options]})
    return json.dumps({"edits": edits})
