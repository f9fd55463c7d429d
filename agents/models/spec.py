"""What a model call needs to know before any client exists: where a role's calls go and what
that endpoint can do (ModelSpec), the sampling settings a persona sends (Sampling), and the one
error a model that cannot be set up raises (ModelError)."""

from __future__ import annotations

import os
from typing import Literal

from autogen_core.models import ModelFamily, ModelInfo
from pydantic import BaseModel, ConfigDict, Field

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
    base_url: str | None = Field(None, description="None: the openai SDK's default (OPENAI_BASE_URL or OpenAI)")
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: bool = True
    function_calling: bool | Literal["auto"] = Field(
        "auto",
        description="tool calls: true native, false through structured output, auto: probed once per endpoint",
    )
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
            # the embedded model calls tools through its grammar; "auto" not yet probed counts as native
            function_calling=self.function_calling is not False,
            json_output=True,
            structured_output=self.structured_output,
            family=ModelFamily.UNKNOWN,
        )


class Sampling(BaseModel):
    """Sampling settings sent with every call this persona makes."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=16, le=32768)
