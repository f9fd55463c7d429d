"""The persistent request cache: every model call of a run goes through it, so a resume (or a
rerun pointed at the same cache) makes no call that had already finished.

The key is the endpoint, the model, the sampling settings, the messages, the tools, the tool
choice, the output schema and the extra arguments, plus the call's OCCURRENCE: the n-th identical
call of a process gets entry n. A retry after a malformed answer sends the same request again
and must get a new answer, not the cached bad one; on resume the same sequence replays. Only the
most recent requests keep their count (`RECENT_REQUESTS`): a retry follows its request within the
same step, and a run of days would otherwise hold a count for every call it ever made.
(AutoGen's ChatCompletionCache keys on the call's arguments only, so two models or two
temperatures would share entries, and a retry would get its failed answer back.)

Stored with diskcache (SQLite): safe for several processes (Ray workers on one machine), and an
entry is committed as soon as its call returns, so a SIGKILL loses at most the calls in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.models.wrapping import WrappedClient, schema_of

#: set for a seed run again after it failed (--retry-failed): its calls are made anew, not replayed
#: (they are still stored); a context variable, so it reaches every agent task the seed starts
FRESH_ANSWERS: ContextVar[bool] = ContextVar("fresh_answers", default=False)

#: requests whose occurrence count is kept (least recently made forgotten first): about 20 MiB
RECENT_REQUESTS = 100_000


class RequestCache:
    """A folder of cached answers, opened on first use."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._store: Any = None
        self._occurrences: OrderedDict[str, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _open(self) -> Any:
        if self._store is None:
            from diskcache import Cache

            self.directory.mkdir(parents=True, exist_ok=True)
            # Never evict: diskcache's default drops the oldest entries past 1 GB, and a long run's
            # resume would then pay for those calls again. No culling also spares a query per write.
            self._store = Cache(str(self.directory), eviction_policy="none", cull_limit=0)
        return self._store

    def next_key(self, request_hash: str) -> str:
        occurrence = self._occurrences.pop(request_hash, 0)
        self._occurrences[request_hash] = occurrence + 1  # now the most recent
        if len(self._occurrences) > RECENT_REQUESTS:
            self._occurrences.popitem(last=False)
        return f"{request_hash}:{occurrence}"

    def get(self, key: str) -> CreateResult | None:
        raw = self._open().get(key)
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        result = CreateResult.model_validate_json(raw)
        result.cached = True
        return result

    def put(self, key: str, result: CreateResult) -> None:
        self._open().set(key, result.model_dump_json())

    def values(self) -> list[CreateResult]:
        store = self._open()
        return [CreateResult.model_validate_json(store[key]) for key in store]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def request_hash(
    identity: Mapping[str, Any],
    messages: Sequence[LLMMessage],
    tools: Sequence[Tool | ToolSchema],
    tool_choice: Any,
    json_output: bool | type[BaseModel] | None,
    extra_create_args: Mapping[str, Any],
) -> str:
    schema: Any = json_output
    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        schema = schema_of(json_output)
    data = {
        "client": dict(identity),
        "messages": [message.model_dump(mode="json") for message in messages],
        "tools": [tool.schema if isinstance(tool, Tool) else tool for tool in tools],
        "tool_choice": tool_choice if isinstance(tool_choice, str) else tool_choice.schema,
        "json_output": schema,
        "extra_create_args": dict(extra_create_args),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class CachedClient(WrappedClient):
    """Answers from the cache when it can; stores every new answer before returning it."""

    def __init__(self, inner: ChatCompletionClient, cache: RequestCache, identity: Mapping[str, Any]):
        super().__init__(inner)
        self.cache = cache
        self.identity = dict(identity)

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
        key = self.cache.next_key(
            request_hash(self.identity, messages, tools, tool_choice, json_output, extra_create_args)
        )
        cached = None if FRESH_ANSWERS.get() else self.cache.get(key)
        if cached is not None:
            return cached
        result = await self.inner.create(
            messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
            extra_create_args=extra_create_args, cancellation_token=cancellation_token,
        )  # fmt: skip
        self.cache.put(key, result)
        return result
