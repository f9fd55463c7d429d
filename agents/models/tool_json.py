"""Tool calls through structured output, for endpoints without native tools (`function_calling:
false`, or found not to honour a forced tool choice): the request carries no `tools`; its
response format is the JSON schema `{"tool_calls": [{"name": <a tool>, "arguments": <its
parameters>}, ...]}` (or, when the agent may choose, its usual answer instead), and the answer
comes back as AutoGen FunctionCalls. Calls and results already in the conversation go as text
the model reads. Flows, transcripts, checks and records are the same as with native tools.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.models.wrapping import WrappedClient, schema_of

SCHEMA_NAME = "tool_calls"
#: calls one answer may make: a small model asked for one search repeated its calls until
#: max_tokens cut the JSON (seen on llama.cpp's server); a bound lets the decoder close the list
MAX_CALLS = 8
_REPLY = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"], "additionalProperties": False}


def _tool_schema(tool: Tool | ToolSchema) -> ToolSchema:
    return tool.schema if isinstance(tool, Tool) else tool


def calls_schema(schemas: Sequence[ToolSchema], reply: dict[str, Any] | None) -> dict[str, Any]:
    """One to MAX_CALLS calls, each to one of the tools with that tool's arguments; or `reply`."""
    one = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [s["name"]]},
                "arguments": dict(s.get("parameters") or {"type": "object", "properties": {}}),
            },
            "required": ["name", "arguments"],
        }
        for s in schemas
    ]
    calls = {
        "type": "object",
        "properties": {"tool_calls": {"type": "array", "minItems": 1, "maxItems": MAX_CALLS, "items": one[0] if len(one) == 1 else {"anyOf": one}}},
        "required": ["tool_calls"],
    }
    if reply is None:
        return calls
    reply = dict(reply)
    defs = reply.pop("$defs", None)
    schema: dict[str, Any] = {"anyOf": [calls, reply]}
    if defs:
        schema["$defs"] = defs  # the reply model's refs point at the root
    return schema


def tool_prompt(schemas: Sequence[ToolSchema], may_reply: bool) -> str:
    lines = ['You can call these tools. To call them, answer with JSON: {"tool_calls": [{"name": <tool>, "arguments": {...}}]}.']
    if may_reply:
        lines.append("To answer without a tool, answer as you were asked to, without tool_calls.")
    for schema in schemas:
        lines.append(f"- {schema['name']}: {schema.get('description', '')} parameters: {json.dumps(schema.get('parameters', {}))}")
    return "\n".join(lines)


def as_text(messages: Sequence[LLMMessage]) -> list[LLMMessage]:
    """Tool calls and results in the conversation as text turns (no tool roles needed)."""
    out: list[LLMMessage] = []
    for m in messages:
        if isinstance(m, AssistantMessage) and not isinstance(m.content, str):
            calls = [{"name": c.name, "arguments": _loads(c.arguments)} for c in m.content]
            out.append(AssistantMessage(content=json.dumps({"tool_calls": calls}), source=m.source))
        elif isinstance(m, FunctionExecutionResultMessage):
            results = [f"Result of {r.name} (call {r.call_id}): {r.content}" for r in m.content]
            out.append(UserMessage(content="\n".join(results), source="tools"))
        else:
            out.append(m)
    return out


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_calls(content: str, names: set[str]) -> list[FunctionCall] | None:
    """The calls in a structured answer, or None when it is not a call to a known tool."""
    try:
        value = json.loads(content, strict=False)
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict) and "name" in value and "arguments" in value:
        value = {"tool_calls": [value]}  # one call written without its list
    if not isinstance(value, dict) or not isinstance(value.get("tool_calls"), list) or not value["tool_calls"]:
        return None
    calls = []
    for call in value["tool_calls"]:
        if not isinstance(call, dict) or call.get("name") not in names:
            return None
        args = call.get("arguments", {})
        calls.append(FunctionCall(id=f"call_{uuid.uuid4().hex[:12]}", name=call["name"],
                                  arguments=args if isinstance(args, str) else json.dumps(args)))  # fmt: skip
    return calls


class StructuredToolCalls(WrappedClient):
    """An endpoint client that calls tools through structured output (module docstring)."""

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        **rest: Any,
    ) -> CreateResult:
        schemas = [_tool_schema(t) for t in tools] if tool_choice != "none" else []
        if isinstance(tool_choice, Tool):
            schemas = [s for s in schemas if s["name"] == tool_choice.name]
        history = as_text(messages)
        if not schemas:
            return await self.inner.create(history, json_output=json_output, extra_create_args=extra_create_args, **rest)
        may_reply = tool_choice == "auto"
        reply: dict[str, Any] | None = None
        if may_reply:
            structured = isinstance(json_output, type) and issubclass(json_output, BaseModel)
            reply = schema_of(json_output) if structured else _REPLY
        schema = calls_schema(schemas, reply)
        prompt = tool_prompt(schemas, may_reply)
        if history and isinstance(history[0], SystemMessage):
            history[0] = SystemMessage(content=f"{history[0].content}\n\n{prompt}")
        else:
            history.insert(0, SystemMessage(content=prompt))
        response_format = {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": False}}
        result = await self.inner.create(
            history, json_output=None, extra_create_args={**extra_create_args, "response_format": response_format}, **rest
        )
        if not isinstance(result.content, str):
            return result
        calls = parse_calls(result.content, {s["name"] for s in schemas})
        if calls is not None:
            return result.model_copy(update={"content": calls, "finish_reason": "function_calls"})
        content = result.content
        if may_reply and not (isinstance(json_output, type) and issubclass(json_output, BaseModel)):
            value = _loads(content)
            if isinstance(value, dict) and isinstance(value.get("reply"), str):
                content = value["reply"]
        return result.model_copy(update={"content": content})

    @property
    def model_info(self) -> ModelInfo:
        """Tools are served here, whatever the endpoint: AutoGen must not refuse them."""
        return {**self.inner.model_info, "function_calling": True}

