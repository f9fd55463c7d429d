"""The model-client stack: model specs and the pool that turns them into AutoGen clients, the
embedded llama.cpp backend (`local`), OpenAI-compatible endpoints, and the layers every call
passes through (request cache, endpoint limits, usage metering).

    spec.py               ModelSpec, Sampling, ModelError: what a call needs to know
    pool.py               ModelPool and the backend registry: specs -> shared clients
    local.py              the embedded model (llama.cpp in-process, JSON and tools through its grammar)
    openai_compatible.py  any OpenAI-compatible endpoint, requests posted as AutoGen built them
    wrapping.py           the base of every layer, and structured output as a response_format
    cache.py, limits.py, usage.py   the request cache, endpoint limits, token and cost accounting
"""

from agents.models.cache import RequestCache
from agents.models.limits import EndpointLimits
from agents.models.pool import BACKENDS, ModelPool, build_client
from agents.models.spec import LOCAL, LOCAL_MODEL_LABEL, ModelError, ModelSpec, Sampling
from agents.models.usage import Budget, Price, Usage, UsageMeter

__all__ = [
    "BACKENDS",
    "LOCAL",
    "LOCAL_MODEL_LABEL",
    "Budget",
    "EndpointLimits",
    "ModelError",
    "ModelPool",
    "ModelSpec",
    "Price",
    "RequestCache",
    "Sampling",
    "Usage",
    "UsageMeter",
    "build_client",
]
