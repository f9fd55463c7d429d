"""Checks for tool use. Each returns the problems it found (empty = passes).

A conversation passes when every call names a tool of its toolset with arguments that validate
against that tool's JSON Schema, and the task type's promise holds: a missing-parameter task
has no call that invents the withheld value, a missing-API task calls no absent API and says
what it cannot do, the other tasks call the APIs they need. Tool results are simulated, so
nothing here runs code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator

from teams.flows.types import Message
from teams.skills.tool_use.schemas import TASK_SHAPES, ApiDoc, ToolSpec, ToolTaskDraft

CANNOT = re.compile(
    r"\b(cannot|can ?not|can't|unable|not able|no (?:tool|api|function)|(?:isn't|is not|not) available|"
    r"don't have|do not have|doesn't (?:have|support)|does not (?:have|support)|not supported)\b",
    re.IGNORECASE,
)


def check_api_doc(doc: ApiDoc) -> list[str]:
    names = [p.name for p in doc.parameters]
    problems = []
    if len(set(names)) != len(names):
        problems.append(f"{doc.name}: repeated parameter names")
    if doc.name in names:
        problems.append(f"{doc.name}: a parameter is named like the API")
    return problems


def schema_problems(arguments: Any, schema: dict[str, Any]) -> list[str]:
    """Where `arguments` breaks a JSON Schema, one line per problem."""
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(arguments)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(arguments)
    ]


def check_task(draft: ToolTaskDraft, subcategory: str, tools: Sequence[ToolSpec]) -> list[str]:
    """Does the task keep its type's promise before any model answers it?"""
    shape = TASK_SHAPES[subcategory]
    by_name = {t.name: t for t in tools}
    problems = []
    low, high = shape.apis
    if not low <= len(draft.apis) <= high:
        problems.append(f"needs {low}-{high} listed APIs, names {len(draft.apis)}")
    unknown = [a for a in draft.apis if a not in by_name]
    if unknown:
        problems.append(f"names APIs not in the list: {unknown}")
    if shape.missing:
        present = [m.name for m in draft.missing_apis if m.name in by_name]
        if not draft.missing_apis or present:
            problems.append(f"a missing-API task must need an API absent from the list (listed: {present})")
    if shape.withheld:
        if not draft.withheld or not draft.follow_up.strip():
            problems.append("a missing-parameter task must withhold a required value and give it in a follow-up")
        for w in draft.withheld:
            tool = by_name.get(w.api)
            if tool is None or w.api not in draft.apis or w.parameter not in tool.required:
                problems.append(f"withheld '{w.parameter}' is not a required parameter of a needed API '{w.api}'")
            elif w.value.strip().lower() in draft.request.lower():
                problems.append(f"the request gives the withheld value of '{w.parameter}'")
    if shape.superfluous and not draft.superfluous:
        problems.append("a superfluous-parameter task must give details no parameter takes")
    return problems


def _looks_like_a_call(text: str) -> bool:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and "name" in value and "arguments" in value


def tool_calls(messages: Sequence[Message]) -> list[tuple[int, str, str]]:
    """(message index, tool name, arguments JSON) of every call, in order."""
    return [
        (i, call["function"]["name"], call["function"]["arguments"])
        for i, m in enumerate(messages)
        for call in m.tool_calls or []
    ]


def check_conversation(messages: Sequence[Message], tools: Sequence[ToolSpec], draft: ToolTaskDraft,
                       subcategory: str) -> list[str]:  # fmt: skip
    shape = TASK_SHAPES[subcategory]
    by_name = {t.name: t for t in tools}
    problems: list[str] = []
    calls = tool_calls(messages)
    parsed: list[tuple[int, str, dict[str, Any]]] = []
    for index, name, arguments in calls:
        if name not in by_name:
            problems.append(f"calls '{name}', which is not in the toolset")
            continue
        try:
            args = json.loads(arguments)
        except json.JSONDecodeError:
            problems.append(f"'{name}' arguments are not JSON")
            continue
        for problem in schema_problems(args, by_name[name].parameters):
            problems.append(f"'{name}' arguments break its schema: {problem}")
        if isinstance(args, dict):
            parsed.append((index, name, args))
    answered = [m for m in messages if m.role == "assistant" and not m.tool_calls and m.content.strip()]
    if not answered or messages[-1].role != "assistant" or messages[-1].tool_calls:
        problems.append("the conversation does not end with the assistant's answer")
    elif _looks_like_a_call(messages[-1].content):
        problems.append("the answer is a tool call written as text, not an answer")

    if shape.missing:
        absent = {m.name for m in draft.missing_apis}
        problems += [f"calls the absent API '{name}'" for _, name, _ in calls if name in absent]
        if answered and not CANNOT.search(answered[-1].content):
            problems.append("a missing-API task's answer does not say what the assistant cannot do")
    if shape.withheld:
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        follow_up_at = users[1] if len(users) > 1 else len(messages)
        for w in draft.withheld:
            for index, name, args in parsed:
                if name != w.api or w.parameter not in args:
                    continue
                if index < follow_up_at:
                    problems.append(f"invents the withheld '{w.parameter}' of '{name}' before the user gives it")
                elif str(args[w.parameter]).strip().lower() not in draft.follow_up.lower():
                    problems.append(f"'{name}' {w.parameter}={args[w.parameter]!r} is not the value the user gave")
        needed = {w.api for w in draft.withheld}
        if not any(name in needed and index > follow_up_at for index, name, _ in parsed):
            problems.append("the withheld values were given but the API that needs them was not called")
    elif not shape.missing:
        called = {name for _, name, _ in calls}
        problems += [f"the task needs '{api}' but it was not called" for api in draft.apis if api not in called]
    return problems
