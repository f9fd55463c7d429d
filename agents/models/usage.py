"""Token and cost accounting per role and model, and the budget that stops a run.

Every call made through the ModelPool passes a MeteredClient, so every call counts: the
teams' agents, a selector's, any retry's. (A message's `models_usage` misses a selector's
calls.) Calls answered from the request cache are counted apart and cost nothing. The calls of
one seed are also counted for that seed (`SEED_TOKENS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ConfigDict, Field

from agents.models.wrapping import WrappedClient


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")

    prompt: float = Field(0.0, ge=0)
    completion: float = Field(0.0, ge=0)


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_cost: float | None = Field(None, gt=0, description="US dollars")
    max_tokens: int | None = Field(None, gt=0, description="prompt + completion tokens sent to endpoints")


class Usage(BaseModel):
    """One role's calls to one model."""

    role: str
    model: str
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.cached_calls += other.cached_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost += other.cost


class TokenCount:
    """The tokens spent by the calls made in one context: a seed's task and the agent tasks it
    starts, which asyncio gives a copy of its context (this object is shared, not copied)."""

    def __init__(self) -> None:
        self.tokens = 0


#: the count the seed in hand adds its calls' tokens to (teams.engine.seed sets it); None: no seed's
SEED_TOKENS: ContextVar[TokenCount | None] = ContextVar("seed_tokens", default=None)


class UsageMeter:
    """The run's running totals; calls `on_budget` once, the first time the budget is reached."""

    reached: Literal["max_cost", "max_tokens"] | None

    def __init__(
        self,
        prices: Mapping[str, Price] | None = None,
        budget: Budget | None = None,
        on_budget: Callable[[str], None] | None = None,
    ):
        self.prices = dict(prices or {})
        self.budget = budget or Budget()
        self.on_budget = on_budget
        self.rows: dict[tuple[str, str], Usage] = {}
        self.reached = None

    def _row(self, role: str, model: str) -> Usage:
        key = (role, model)
        if key not in self.rows:
            self.rows[key] = Usage(role=role, model=model)
        return self.rows[key]

    def record(self, role: str, model: str, result: CreateResult) -> None:
        row = Usage(role=role, model=model)
        if result.cached:
            row.cached_calls = 1
        else:
            price = self.prices.get(model, Price())
            row.calls = 1
            row.prompt_tokens = result.usage.prompt_tokens
            row.completion_tokens = result.usage.completion_tokens
            row.cost = (row.prompt_tokens * price.prompt + row.completion_tokens * price.completion) / 1e6
        seed_count = SEED_TOKENS.get()
        if seed_count is not None:
            seed_count.tokens += row.tokens
        self.merge([row])

    def merge(self, rows: Sequence[Usage]) -> None:
        for row in rows:
            self._row(row.role, row.model).add(row)
        self._check_budget()

    def snapshot(self) -> list[Usage]:
        return [row.model_copy() for row in self.rows.values()]

    @property
    def tokens(self) -> int:
        return sum(row.tokens for row in self.rows.values())

    @property
    def cost(self) -> float:
        return sum(row.cost for row in self.rows.values())

    @property
    def calls(self) -> int:
        return sum(row.calls for row in self.rows.values())

    @property
    def cached_calls(self) -> int:
        return sum(row.cached_calls for row in self.rows.values())

    @property
    def budget_reason(self) -> str | None:
        """The budget reached and what has been spent by now. Calls in flight when it was reached
        still finish and are paid, so the spend is read each time (the run's stop reason reads it
        last, with its totals); the setting is named as in a config file, since the budget may
        come from one or from --max-cost / --max-tokens."""
        if self.reached == "max_cost":
            return f"max_cost ${self.budget.max_cost:g} reached (spent ${round(self.cost, 6):.4f})"  # as the totals hold it
        if self.reached == "max_tokens":
            return f"max_tokens {self.budget.max_tokens:,} reached ({self.tokens:,} tokens)"
        return None

    def _check_budget(self) -> None:
        if self.reached:
            return
        b = self.budget
        if b.max_cost is not None and self.cost >= b.max_cost:
            self.reached = "max_cost"
        elif b.max_tokens is not None and self.tokens >= b.max_tokens:
            self.reached = "max_tokens"
        if self.budget_reason and self.on_budget:
            self.on_budget(self.budget_reason)


class MeteredClient(WrappedClient):
    """Counts each call for one role and model."""

    def __init__(self, inner: ChatCompletionClient, meter: UsageMeter, role: str, model: str):
        super().__init__(inner)
        self.meter = meter
        self.role = role
        self.model = model

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
        result = await self.inner.create(
            messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
            extra_create_args=extra_create_args, cancellation_token=cancellation_token,
        )  # fmt: skip
        self.meter.record(self.role, self.model, result)
        return result

    async def close(self) -> None:
        """The wrapped client is shared by every role of its endpoint; the pool closes it."""
