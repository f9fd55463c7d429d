"""OpenAI-compatible endpoints: an AutoGen client over an AsyncOpenAI client whose
`chat.completions.create()` posts the request as AutoGen built it.

The SDK's `create()` first walks every request against its TypedDicts, to rename aliased keys and
format dates and files. A chat request has none of those, so the walk returns the body unchanged
(tests/test_openai_direct.py checks that on every kind of request the flows send, so an SDK that
starts to rename something fails there), yet it cost about half a millisecond of CPU per call: in
bench/call_overhead.py, agentinstruct's OpenAI client went from 1.2 to 0.7 ms per call without it.
Streaming requests keep the SDK's own path.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from autogen_core.models import ChatCompletionClient
from autogen_ext.models.openai import BaseOpenAIChatCompletionClient
from openai import AsyncOpenAI, NotGiven, Omit
from openai.resources.chat import AsyncChat, AsyncCompletions
from openai.types.chat import ChatCompletion

from agents.models.spec import ModelError, ModelSpec, Sampling
from agents.models.tool_json import StructuredToolCalls
from agents.models.wrapping import SchemaAsResponseFormat

#: `create()` arguments that shape the HTTP request (its RequestOptions), not its body
_OPTIONS = {"extra_headers": "headers", "extra_query": "params", "extra_body": "extra_json", "timeout": "timeout"}


def _given(value: object) -> bool:
    return not isinstance(value, (NotGiven, Omit))


class NotAChatCompletion(ValueError):
    """The endpoint answered 200 with something else: a web page (a base URL that is a site, not
    its API), or JSON of another shape. The SDK passes either on unchecked, and the first use of
    the answer failed with an AttributeError naming neither the endpoint nor the answer."""

    def __init__(self, answer: object):
        shown = answer if isinstance(answer, str) else getattr(answer, "model_extra", None) or answer
        preview = " ".join(str(shown).split())[:80]
        super().__init__(f"the endpoint's answer is not a chat completion (is the base URL its API's, often ending in /v1?): {preview!r}")


class DirectCompletions(AsyncCompletions):
    async def create(self, **params: Any) -> Any:  # the SDK's keywords, passed on
        if params.get("stream"):
            return await super().create(**params)
        options: Any = {"security": {"bearer_auth": True}}  # openai's RequestOptions, as its create() makes them
        options |= {_OPTIONS[k]: v for k, v in params.items() if k in _OPTIONS and v is not None and _given(v)}
        body = {key: value for key, value in params.items() if key not in _OPTIONS and _given(value)}
        answer = await self._client.post("/chat/completions", body=body, cast_to=ChatCompletion, options=options)
        if not isinstance(answer, ChatCompletion) or not isinstance(getattr(answer, "choices", None), list):
            raise NotAChatCompletion(answer)
        return answer


class _DirectChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return DirectCompletions(self._client)


class DirectOpenAI(AsyncOpenAI):
    @cached_property
    def chat(self) -> AsyncChat:
        return _DirectChat(self)


def build_openai(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    if not spec.structured_output:
        raise ModelError(
            f"model '{spec.model}': agentinstruct's agents answer in JSON schemas, so the endpoint must "
            "support structured output (OpenAI, vLLM, SGLang, Ollama and llama.cpp's server all do)"
        )
    api_key = os.environ.get(spec.api_key_env)
    base_url = spec.base_url or os.environ.get("OPENAI_BASE_URL")
    if not api_key:
        if base_url is None:
            raise ModelError(
                f"model '{spec.model}' needs an API key: set {spec.api_key_env}, or give --base-url "
                "for a local OpenAI-compatible server"
            )
        api_key = "not-needed"  # vLLM, Ollama and llama.cpp's server accept any key
    sdk = DirectOpenAI(
        api_key=api_key,
        base_url=base_url,
        # retries and the per-call timeout are owned by agents.models.limits; the SDK's are a backstop
        timeout=spec.timeout + 30,
        max_retries=0,
        http_client=_aiohttp_client(),
    )
    create_args = {"model": spec.model, "temperature": sampling.temperature, "top_p": sampling.top_p,
                   "max_tokens": sampling.max_tokens}  # fmt: skip
    autogen_client = BaseOpenAIChatCompletionClient(sdk, create_args=create_args, model_info=spec.model_info())
    client: ChatCompletionClient = SchemaAsResponseFormat(autogen_client)
    if spec.function_calling is False:
        client = StructuredToolCalls(client)  # never AutoGen's "does not support function calling"
    return client


def _aiohttp_client() -> Any:
    """The openai SDK's aiohttp transport (its `aiohttp` extra), which it recommends for many
    concurrent calls: the pipeline of bench/throughput.py at 128 calls in flight went from 3.7 to
    3.2 ms of CPU per call with it, against the default httpx pool. None (the SDK's default) if missing."""
    import openai

    factory = getattr(openai, "DefaultAioHttpClient", None)
    if factory is None:
        return None
    try:
        return factory()
    except RuntimeError:  # the SDK says its aiohttp extra is not installed
        return None
