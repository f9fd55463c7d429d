"""An AsyncOpenAI client whose `chat.completions.create()` posts the request as AutoGen built it.

The SDK's `create()` first walks every request against its TypedDicts, to rename aliased keys and
format dates and files. A chat request has none of those, so the walk returns the body unchanged
(tests/test_openai_direct.py checks that on every kind of request the flows send, so an SDK that
starts to rename something fails there), yet it cost about half a millisecond of CPU per call: in
bench/call_overhead.py, agentinstruct's OpenAI client went from 1.2 to 0.7 ms per call without it.
Streaming requests keep the SDK's own path.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from openai import AsyncOpenAI, NotGiven, Omit
from openai.resources.chat import AsyncChat, AsyncCompletions
from openai.types.chat import ChatCompletion

#: `create()` arguments that shape the HTTP request (its RequestOptions), not its body
_OPTIONS = {"extra_headers": "headers", "extra_query": "params", "extra_body": "extra_json", "timeout": "timeout"}


def _given(value: object) -> bool:
    return not isinstance(value, (NotGiven, Omit))


class DirectCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:  # the SDK's keywords, passed on
        if params.get("stream"):
            return await super().create(**params)
        options: Any = {"security": {"bearer_auth": True}}  # openai's RequestOptions, as its create() makes them
        options |= {_OPTIONS[k]: v for k, v in params.items() if k in _OPTIONS and v is not None and _given(v)}
        body = {key: value for key, value in params.items() if key not in _OPTIONS and _given(value)}
        return await self._client.post("/chat/completions", body=body, cast_to=ChatCompletion, options=options)


class _DirectChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return DirectCompletions(self._client)


class DirectOpenAI(AsyncOpenAI):
    @cached_property
    def chat(self) -> AsyncChat:
        return _DirectChat(self)
