"""What a model call needs to know before any client exists: where a role's calls go and what
that endpoint can do (ModelSpec), the sampling settings a persona sends (Sampling), and the one
error a model that cannot be set up raises (ModelError)."""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import urlsplit

from autogen_core.models import ModelFamily, ModelInfo
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from agents.models.limits import EndpointLimits

LOCAL = "local"
LOCAL_MODEL_LABEL = "local:SmolLM2-135M-Instruct-Q4_1"


class ModelError(RuntimeError):
    """A model that cannot be set up (missing package, missing key): one line for the user."""


class ModelSpec(BaseModel):
    """Where a role's calls go and what that endpoint can do. Holds the NAME of the
    environment variable with the key, never the key itself."""

    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL
    base_url: str | None = Field(
        None, validate_default=True, description="None: the openai SDK's default (OPENAI_BASE_URL or OpenAI)"
    )
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: bool = True
    function_calling: bool | Literal["auto"] = Field(
        "auto",
        description="tool calls: true native, false through structured output, auto: probed once per endpoint",
    )
    timeout: float = Field(120.0, gt=0, description="seconds per call")
    max_retries: int = Field(2, ge=0, description="retries per call on overload and transient errors")
    limits: EndpointLimits = Field(default_factory=EndpointLimits)

    @field_validator("base_url")
    @classmethod
    def _http_base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A URL the SDK cannot parse fails deep in the first call with a traceback, and one it
        can but cannot reach (no scheme, ftp://) stalls the run for the endpoint-down timeout:
        both are caught here, where every entry point (flag, config file, run.json) builds a spec.
        With no base URL, OPENAI_BASE_URL is what the calls will use, so it is checked instead."""
        if value is not None:
            check_base_url(value)
        elif info.data.get("model", LOCAL) != LOCAL and os.environ.get("OPENAI_BASE_URL"):
            check_base_url(os.environ["OPENAI_BASE_URL"], " (from OPENAI_BASE_URL)")
        return value

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
            # the embedded model calls tools through its grammar; "auto" not yet probed counts as native
            function_calling=self.function_calling is not False,
            json_output=True,
            structured_output=self.structured_output,
            family=ModelFamily.UNKNOWN,
        )


def check_base_url(url: str, source: str = "") -> None:
    """ValueError unless `url` has an http(s) scheme, a host and a port in range (the standard
    library's parser: the SDK's own would fail in the first call instead, with a traceback)."""
    try:
        parsed = urlsplit(url)
        why = (
            "the scheme must be http:// or https://" if parsed.scheme not in ("http", "https")
            else "no host" if not parsed.hostname
            else "invalid port" if parsed.port == 0
            else None
        )  # fmt: skip
    except ValueError as exc:  # a bracket left open, a port that is no number or out of range
        why = str(exc)
    if why:
        raise ValueError(f"invalid base URL {url!r}{source}: {why}")


class Sampling(BaseModel):
    """Sampling settings sent with every call this persona makes."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=16, le=32768)
