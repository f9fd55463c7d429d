"""Fakes for the flows: a ModelPool of ReplayChatCompletionClients (one per model role), and a
responder for the fake OpenAI server that plays a competent model for each of our schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from itertools import count
from typing import Any

from autogen_ext.models.replay import ReplayChatCompletionClient

from agents.models import ModelPool, ModelSpec
from agents.personas import Sampling

ROLES = ("transformer", "instruction_writer", "suggester", "editor", "teacher")


def replay_pool(scripts: dict[str, Sequence[str]]) -> tuple[ModelPool, dict[str, ReplayChatCompletionClient]]:
    """A pool whose every role answers from its own replay script, in call order."""
    spec = ModelSpec().model_info()
    clients = {role: ReplayChatCompletionClient(list(scripts.get(role, [])), model_info=spec) for role in ROLES}

    def factory(model_spec: ModelSpec, sampling: Sampling) -> ReplayChatCompletionClient:
        return clients[model_spec.model.removeprefix("fake-")]

    pool = ModelPool({role: ModelSpec(model=f"fake-{role}") for role in ROLES}, factory=factory)
    return pool, clients


def transform_json(passage: str) -> str:
    return json.dumps({"passage": passage})


def instructions_json(*questions: tuple[str, list[str]]) -> str:
    return json.dumps({"instructions": [{"question": q, "options": o, "answer": "A"} for q, o in questions]})


def answer_json(final: str, explanation: str = "The passage states it directly, in its second sentence.") -> str:
    return json.dumps({"explanation": explanation, "final_answer": final})


_counter = count(1)
UNANSWERABLE_MARK = "[the relevant sentence was removed]"


def _task_text(request: dict[str, Any]) -> str:
    users = [m["content"] for m in request["messages"] if m["role"] == "user" and isinstance(m["content"], str)]
    return users[0] if users else ""


def _passage(task: str) -> str:
    match = re.search(
        r"(?:Passage|Text):\n(.*?)(?:\n\n(?:Question:|Specialists|Answer with|Refinement)|\Z)", task, re.S
    )
    return match.group(1).strip() if match else task


def _schema(request: dict[str, Any]) -> dict[str, Any]:
    return (request.get("response_format") or {}).get("json_schema", {}).get("schema", {})


def _option_count(request: dict[str, Any]) -> int:
    """How many options the requested schema allows (a writer's or editor's schema fixes it per format)."""
    schema = _schema(request)
    holders = [schema, *schema.get("$defs", {}).values()]
    for holder in holders:
        options = holder.get("properties", {}).get("options")
        if options:
            return min(4, options.get("maxItems", 4))
    return 0


def schema_kind(request: dict[str, Any]) -> str:
    """Which of our outputs a request asks for, by the fields of its schema (class names vary by format)."""
    fields = set(_schema(request).get("properties", {}))
    kinds = {
        frozenset({"passage"}): "transform",
        frozenset({"instructions"}): "instructions",
        frozenset({"suggestions"}): "suggestions",
        frozenset({"passage", "question", "options"}): "edit",
        frozenset({"explanation", "final_answer"}): "answer",
    }
    return kinds.get(frozenset(fields), "text")


def competent_responder(request: dict[str, Any]) -> str:
    """Answers each agentinstruct schema the way a good model would, so checks pass."""
    kind = schema_kind(request)
    task = _task_text(request)
    n = next(_counter)
    if kind == "transform":
        return transform_json(f"In the form asked for, the text reads: {_passage(task)}")
    options = _option_count(request)
    if kind == "instructions":
        return instructions_json(
            (
                f"Which statement is best supported (q{n})? Fill ____ if needed.",
                ["one", "two", "three", "four"][:options],
            ),
            (
                f"Which detail does the passage give first (q{n}b)? Answer ____.",
                ["first", "second", "third", "fourth"][:options],
            ),
        )
    if kind == "suggestions":
        return json.dumps({"suggestions": [f"Suggestion {n}: change a key sentence.", "Make the distractors closer."]})
    if kind == "edit":
        passage = _passage(task)
        if "make_unanswerable" in task:
            passage = f"{passage.split('.')[0]}. {UNANSWERABLE_MARK}"
        return json.dumps(
            {
                "passage": f"{passage} (edited {n})",
                "question": f"Edited question {n} ____?",
                "options": ["w", "x", "y", "z"][:options],
            }
        )
    if kind == "answer":
        choices = _schema(request)["properties"]["final_answer"].get("enum")
        if UNANSWERABLE_MARK in task:
            return answer_json(choices[-1] if choices else "It cannot be answered from the passage.")
        if choices:
            return answer_json(choices[0])
        return answer_json(
            "3 facts support it.",
            "The passage states this plainly in its opening lines and repeats it later with more detail.",
        )
    return f"plain answer {n}"
