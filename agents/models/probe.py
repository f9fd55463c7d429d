"""Tiny probes of an OpenAI-compatible endpoint: what it serves of what the flows ask (plain
chat, JSON-schema output, JSON-object output, tools, a forced tool choice), how fast, and the
model spec to write for it. `agentinstruct models check` prints them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from agents.models.outage import describe
from agents.models.spec import ModelSpec

_ANSWER = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}, "required": ["answer"]}
_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
_ASK = [{"role": "user", "content": "Is Paris in France? Answer yes or no."}]
_TOOL_ASK = [{"role": "user", "content": "What time is it in Paris? Use the get_time tool."}]


class Probe(BaseModel):
    name: str
    ok: bool
    seconds: float
    detail: str = ""


class EndpointReport(BaseModel):
    endpoint: str
    probes: list[Probe]
    unreachable: str | None = Field(
        None, description="the URL, and why a probe got no answer there (refused, timed out): the others were not sent"
    )

    def works(self, name: str) -> bool:
        return any(p.name == name and p.ok for p in self.probes)

    @property
    def serves_flows(self) -> bool:
        """The agents answer in JSON schemas: without them no flow can run here."""
        return self.works("json_schema")

    @property
    def native_tools(self) -> bool:
        """Tool calls go natively only where a forced tool choice is honoured."""
        return self.works("tools") and self.works("forced_tool_choice")

    def spec(self, spec: ModelSpec) -> dict[str, Any]:
        """The model spec to write in the config for this endpoint."""
        written = {"model": spec.model, "base_url": spec.base_url, "structured_output": self.serves_flows,
                   "function_calling": self.native_tools}  # fmt: skip
        return {k: v for k, v in written.items() if v is not None}


def one_line_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _json(content: str | None) -> Any:
    try:
        return json.loads(content or "")
    except json.JSONDecodeError:
        return None


def _judge(name: str, message: Any) -> tuple[bool, str]:
    content = message.content
    if name == "chat":
        return bool(content), (content or "")[:40]
    if name == "json_schema":
        value = _json(content)
        return isinstance(value, dict) and value.get("answer") in ("yes", "no"), (content or "")[:40]
    if name == "json_object":
        return isinstance(_json(content), dict), (content or "")[:40]
    calls = [c.function.name for c in message.tool_calls or []]
    if name == "tools":
        return True, f"called {calls}" if calls else "accepted, answered without a call"
    return calls == ["get_time"] or "get_time" in calls, f"called {calls}" if calls else "no tool call"


def _requests(model: str) -> dict[str, dict[str, Any]]:
    schema = {"type": "json_schema", "json_schema": {"name": "probe", "schema": _ANSWER, "strict": False}}
    json_ask = [{"role": "user", "content": 'Is Paris in France? Answer in JSON: {"answer": "yes"} or {"answer": "no"}.'}]
    base = {"model": model, "max_tokens": 48, "temperature": 0}
    return {
        "chat": {**base, "messages": _ASK},
        "json_schema": {**base, "messages": _ASK, "response_format": schema},
        "json_object": {**base, "messages": json_ask, "response_format": {"type": "json_object"}},
        "tools": {**base, "messages": _TOOL_ASK, "tools": [_TOOL], "tool_choice": "auto"},
        "forced_tool_choice": {**base, "messages": _TOOL_ASK, "tools": [_TOOL], "tool_choice": "required"},
    }


#: what `function_calling: auto` needs to know: does the endpoint answer, and does it honour tools
TOOL_PROBES = ("chat", "tools", "forced_tool_choice")


async def probe_endpoint(spec: ModelSpec, timeout: float = 60.0, only: Sequence[str] | None = None) -> EndpointReport:
    """Each probe once (or those named in `only`), in turn; a refused or failed request is a
    probe that did not pass. A request that got no answer at all (connection refused, no such
    host, timed out) ends the probing: what the endpoint serves is then unknown, not missing."""
    from openai import APIConnectionError, AsyncOpenAI

    api_key = os.environ.get(spec.api_key_env) or "not-needed"
    client = AsyncOpenAI(api_key=api_key, base_url=spec.base_url or os.environ.get("OPENAI_BASE_URL"),
                         timeout=min(timeout, spec.timeout), max_retries=0)  # fmt: skip
    probes, unreachable = [], None
    try:
        for name, request in _requests(spec.model).items():
            if only is not None and name not in only:
                continue
            start = time.perf_counter()
            try:
                response = await client.chat.completions.create(**request)
                ok, detail = _judge(name, response.choices[0].message)
            except Exception as exc:  # noqa: BLE001 - any failure is the probe's answer
                ok, detail = False, one_line_error(exc)
                if isinstance(exc, APIConnectionError):
                    unreachable = f"{str(client.base_url).rstrip('/')} unreachable ({describe(exc) or detail})"
            probes.append(Probe(name=name, ok=ok, seconds=round(time.perf_counter() - start, 3), detail=detail))
            if unreachable:
                break
    finally:
        await client.close()
    return EndpointReport(endpoint=spec.endpoint, probes=probes, unreachable=unreachable)
