"""A ChatCompletionClient that wraps another one: the base of the layers the ModelPool stacks
around every backend (request cache -> endpoint limits -> backend; usage metering on top).

A layer overrides `create`; everything else goes to the wrapped client. Streaming is one chunk,
the whole answer, so every call goes through `create` and every layer sees it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel


class WholeAnswerStream(ChatCompletionClient):
    """Streaming as one chunk, the whole answer: batch data generation gains nothing from tokens
    one by one, and every call then goes through `create`, where the layers work."""

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        yield await self.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )


class WrappedClient(WholeAnswerStream):
    def __init__(self, inner: ChatCompletionClient):
        self.inner = inner

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        return await self.inner.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )

    async def close(self) -> None:
        await self.inner.close()

    def actual_usage(self) -> RequestUsage:
        return self.inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; model_info is the real one
        return self.inner.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self.inner.model_info


@lru_cache(maxsize=256)
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """An output model's JSON schema, built once (pydantic builds it anew on every call)."""
    return model.model_json_schema()


@lru_cache(maxsize=256)
def response_format_of(model: type[BaseModel]) -> dict[str, Any]:
    """The `response_format` the openai SDK's `parse()` sends for `model` (a strict JSON
    schema), built once per output model."""
    from openai.lib._parsing import type_to_response_format_param

    return dict(type_to_response_format_param(model))  # type: ignore[arg-type]


class SchemaAsResponseFormat(WrappedClient):
    """Structured output sent as a plain `response_format` dict through `create()`, not as a
    pydantic class through the SDK's beta `parse()`: the request is the same, but `parse()`
    rebuilds and walks the strict schema on every call and parses the answer a second time
    (the agent validates it anyway): about 1 ms of CPU per call (bench/call_overhead.py)."""

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        **rest: Any,
    ) -> CreateResult:
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            extra_create_args = {**extra_create_args, "response_format": response_format_of(json_output)}
            json_output = None
        return await self.inner.create(
            messages, json_output=json_output, extra_create_args=extra_create_args, **rest
        )
