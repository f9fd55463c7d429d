"""Tool plumbing for agents: a client wrapper that makes an agent call its tool, and a tool
whose results are written by another agent (seed code is never executed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, cast

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, FunctionExecutionResultMessage, LLMMessage
from autogen_core.tools import BaseTool, ParametersSchema, Tool, ToolSchema
from pydantic import BaseModel, ConfigDict

from agents.models.wrapping import WrappedClient

ToolChoice = Tool | Literal["auto", "required", "none"]


class RequiredToolChoice(WrappedClient):
    """Delegates to a client, asking for a tool call (tool_choice "required") while tools are
    offered and none has run yet: an AssistantAgent leaves the choice to the model, and a persona
    whose job is to search must search once. After the first result the choice is the model's
    again, so it may search again or answer (with max_tool_iterations > 1, an answer without a
    tool call ends the loop: the model says it has enough). Its reflection afterwards
    (tool_choice "none") goes through unchanged."""

    @staticmethod
    def _choice(messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema], tool_choice: ToolChoice) -> ToolChoice:
        if not tools or tool_choice != "auto" or any(isinstance(m, FunctionExecutionResultMessage) for m in messages):
            return tool_choice
        return "required"

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: ToolChoice = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        return await self.inner.create(
            messages, tools=tools, tool_choice=self._choice(messages, tools, tool_choice), json_output=json_output,
            extra_create_args=extra_create_args, cancellation_token=cancellation_token,
        )  # fmt: skip

    async def close(self) -> None:
        """The inner client belongs to the model pool, which closes it."""


class _AnyArgs(BaseModel):
    model_config = ConfigDict(extra="allow")


Simulate = Callable[[str, dict[str, Any]], Awaitable[str]]


class SimulatedTool(BaseTool[_AnyArgs, _AnyArgs]):
    """An API offered to an agent under its documented JSON Schema; calling it asks `simulate`
    (a tool-simulator agent) for the result. Arguments that break the schema get the error a
    real API would return."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        simulate: Simulate,
        validate: Callable[[Any, dict[str, Any]], list[str]],
    ):
        super().__init__(_AnyArgs, _AnyArgs, name, description)
        self._parameters = parameters
        self._simulate = simulate
        self._validate = validate

    @property
    def schema(self) -> ToolSchema:
        return ToolSchema(
            name=self.name, description=self.description, parameters=cast(ParametersSchema, self._parameters)
        )

    async def run(self, args: _AnyArgs, cancellation_token: CancellationToken) -> _AnyArgs:
        raise NotImplementedError("SimulatedTool answers through run_json")

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> Any:
        problems = self._validate(dict(args), self._parameters)
        if problems:
            return f"error: invalid arguments: {problems[0]}"
        return await self._simulate(self.name, dict(args))

    def return_value_as_string(self, value: Any) -> str:
        return str(value)
