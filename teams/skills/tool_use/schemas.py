"""The types on the arrows of the tool-use flow: API docs, the toolset, tasks and their shapes.

Agents write API documentation as a list of parameters (easy for a small model to fill in);
`ToolSpec` turns it into the JSON Schema of the OpenAI function format. Task schemas are
narrowed per task type and per toolset (API names as enums), so a constrained decoder can only
name APIs that exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from teams.flows.types import Lineage

IDENTIFIER = r"^[a-z][a-z0-9_]{1,40}$"
ParamType = Literal["string", "integer", "number", "boolean", "array"]
ReturnType = Literal["string", "integer", "number", "boolean", "array", "object"]
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
# Short bounds keep a constrained decoder's grammar small (and fast) and a small model from rambling.
Brief = Annotated[str, Field(min_length=1, max_length=120)]


# --- what agents write ------------------------------------------------------------------------


class ParameterDoc(BaseModel):
    name: Identifier
    type: ParamType
    description: Brief
    required: bool


class ReturnDoc(BaseModel):
    type: ReturnType
    description: Brief


class ApiDoc(BaseModel):
    """One API as an agent documents it."""

    name: Identifier
    description: Brief
    parameters: list[ParameterDoc] = Field(max_length=4)
    returns: ReturnDoc


class ApiListOutput(BaseModel):
    """An API extractor's, retriever's or library reconstructor's APIs."""

    apis: list[ApiDoc] = Field(min_length=1, max_length=4)


class SimulatedResult(BaseModel):
    """A tool simulator's result; `result` is narrowed to the API's documented return type."""

    result: Any


# --- the toolset ------------------------------------------------------------------------------


class ToolSpec(BaseModel):
    """One API of the toolset: its OpenAI function (name, description, JSON Schema parameters)
    and its documented return value. `origin` says which agent brought it in."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    parameters: dict[str, Any]
    returns: dict[str, str]
    origin: Literal["extracted", "retrieved", "reconstructed"]
    source: str = Field("", description="file:line of the code it documents, when known")

    @classmethod
    def from_doc(cls, doc: ApiDoc, origin: Any, source: str = "") -> ToolSpec:
        properties: dict[str, Any] = {}
        for p in doc.parameters:
            prop: dict[str, Any] = {"type": p.type, "description": p.description}
            if p.type == "array":
                prop["items"] = {"type": "string"}
            properties[p.name] = prop
        parameters = {
            "type": "object",
            "properties": properties,
            "required": [p.name for p in doc.parameters if p.required],
            "additionalProperties": False,
        }
        return cls(name=doc.name, description=doc.description, parameters=parameters,
                   returns=doc.returns.model_dump(), origin=origin, source=source)  # fmt: skip

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))

    def openai(self) -> dict[str, Any]:
        """The OpenAI function-calling format a tools-aware chat template takes."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def brief(self) -> str:
        params = ", ".join(
            f"{name}: {prop['type']}{'' if name in self.required else ' (optional)'}"
            for name, prop in self.parameters["properties"].items()
        )
        return f"{self.name}({params}) -> {self.returns['type']}: {self.description}"


def toolset_text(tools: Sequence[ToolSpec]) -> str:
    """The toolset as the agents read it, one API a line."""
    return "\n".join(f"- {t.brief()}" for t in tools)


def result_schema(tool: ToolSpec) -> type[SimulatedResult]:
    """The simulator's schema: a result of the API's documented return type."""
    return _result_schema(tool.returns.get("type", "object"))


@cache
def _result_schema(kind: str) -> type[SimulatedResult]:
    # One class per shape, made once: the openai SDK's parsed-response generics are cached by
    # class, and a new class of the same name each call makes pydantic warn on every response.
    annotation: Any = {"string": str, "integer": int, "number": float, "boolean": bool,
                       "array": list[Any], "object": dict[str, Any]}.get(kind, dict[str, Any])  # fmt: skip
    return create_model(f"{kind.title()}Result", __base__=SimulatedResult, result=(annotation, ...))


# --- tasks ------------------------------------------------------------------------------------


class TaskShape(BaseModel):
    """What a task type promises: how many listed APIs it needs, and whether it gives extra
    details, withholds required values, or needs APIs that are not in the list."""

    apis: tuple[int, int]
    superfluous: bool = False
    withheld: bool = False
    missing: bool = False


# The method's seven task types, keyed by the tool_use taxonomy's subcategory names.
TASK_SHAPES: dict[str, TaskShape] = {
    "single_api_all_params": TaskShape(apis=(1, 1)),
    "single_api_superfluous_params": TaskShape(apis=(1, 1), superfluous=True),
    "single_api_missing_params": TaskShape(apis=(1, 1), withheld=True),
    "multiple_apis_all_params": TaskShape(apis=(2, 4)),
    "multiple_apis_missing_params": TaskShape(apis=(2, 4), withheld=True),
    "missing_single_api": TaskShape(apis=(0, 0), missing=True),
    "missing_essential_apis": TaskShape(apis=(1, 3), missing=True),
}


class Withheld(BaseModel):
    api: str
    parameter: str
    value: Brief = Field(description="what the user answers when the assistant asks for it")


class MissingApi(BaseModel):
    name: Identifier
    description: Brief


class ToolTaskDraft(BaseModel):
    """A user task over the toolset, with what it promises."""

    request: str = Field(min_length=10, max_length=600, description="the user's message")
    apis: list[str] = Field(default_factory=list, description="the listed APIs it needs, in call order")
    superfluous: list[Brief] = Field(default_factory=list, description="details given that no parameter takes")
    withheld: list[Withheld] = Field(default_factory=list, description="required values the user leaves out")
    follow_up: str = Field("", description="the user's later reply that gives the withheld values")
    missing_apis: list[MissingApi] = Field(default_factory=list, description="needed APIs absent from the list")


class ToolTasksOutput(BaseModel):
    tasks: list[ToolTaskDraft] = Field(min_length=1, max_length=5)


class ToolTask(Lineage):
    """A task ready for the conversation, with its lineage."""

    draft: ToolTaskDraft


def _none(kind: Any) -> Any:
    return (list[kind], Field(default_factory=list, max_length=0))


def _signature(tools: list[ToolSpec]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t.name, tuple(t.required)) for t in tools)


def task_schema(subcategory: str, tools: list[ToolSpec], min_apis: int = 0) -> type[ToolTaskDraft]:
    """One task's schema for a task type over a toolset: API names limited to the list, list
    lengths fixed by the type's promise."""
    return _task_schema(subcategory, _signature(tools), min_apis)


def _class_name(subcategory: str, signature: Any, suffix: str) -> str:
    digest = hashlib.sha256(repr(signature).encode()).hexdigest()[:8]
    return "".join(part.capitalize() for part in subcategory.split("_")) + f"{suffix}{digest}"


@cache
def _task_schema(
    subcategory: str, signature: tuple[tuple[str, tuple[str, ...]], ...], min_apis: int
) -> type[ToolTaskDraft]:
    shape = TASK_SHAPES[subcategory]
    names: Any = Literal[tuple(name for name, _ in signature)]
    low, high = shape.apis
    low = max(low, min(min_apis, high))
    fields: dict[str, Any] = {"apis": (list[names], Field(min_length=low, max_length=high))}
    fields["superfluous"] = (list[Brief], Field(min_length=1, max_length=3)) if shape.superfluous else _none(str)
    if shape.withheld:
        required: Any = Literal[tuple(sorted({p for _, params in signature for p in params} or {"value"}))]
        withheld = create_model("WithheldValue", __base__=Withheld, api=(names, ...), parameter=(required, ...))
        fields["withheld"] = (list[withheld], Field(min_length=1, max_length=2))
        fields["follow_up"] = (str, Field(min_length=5))
    else:
        fields["withheld"] = _none(Withheld)
        fields["follow_up"] = (Literal[""], "")
    fields["missing_apis"] = (
        (list[MissingApi], Field(min_length=1, max_length=2)) if shape.missing else _none(MissingApi)
    )
    return create_model(_class_name(subcategory, (signature, min_apis), "Task"), __base__=ToolTaskDraft, **fields)


def tasks_schema(subcategory: str, tools: list[ToolSpec]) -> type[ToolTasksOutput]:
    return _tasks_schema(subcategory, _signature(tools))


@cache
def _tasks_schema(subcategory: str, signature: tuple[tuple[str, tuple[str, ...]], ...]) -> type[ToolTasksOutput]:
    draft = _task_schema(subcategory, signature, 0)
    return create_model(
        _class_name(subcategory, signature, "Tasks"),
        __base__=ToolTasksOutput,
        tasks=(list[draft], Field(min_length=1, max_length=5)),  # type: ignore[valid-type]
    )


def feasible(subcategory: str, tools: list[ToolSpec]) -> bool:
    """Whether the toolset can carry a task of this type (enough APIs; required values to withhold)."""
    shape = TASK_SHAPES[subcategory]
    if len(tools) < shape.apis[0]:
        return False
    return not shape.withheld or any(t.required for t in tools)
