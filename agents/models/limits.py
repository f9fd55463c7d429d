"""Per-endpoint limits, shared by every client of one endpoint (base URL + model): requests in
flight, requests and tokens per minute (token buckets), adaptive backoff on 429 and overload
(the rate halves, then climbs back with successes: AIMD), capped retries, a circuit breaker
that pauses every caller instead of hammering a failing endpoint, and a timeout per call.

Retries are owned here and only here: the openai SDK is built with max_retries=0.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import openai
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from agents.models.outage import EndpointDown, EndpointError, Outage, describe, is_auth
from agents.models.wrapping import WrappedClient

MIN_FACTOR = 0.02  # the adaptive rate never drops below 2% of the configured limits
RECOVERY_PER_SUCCESS = 0.01  # each success gives back 1% of the configured limits


class EndpointLimits(BaseModel):
    """What one endpoint may be asked; set per role in the config's `models:` section."""

    model_config = ConfigDict(extra="forbid")

    max_in_flight: int = Field(64, ge=1, description="requests at once")
    requests_per_minute: float | None = Field(None, gt=0, description="None: no limit")
    tokens_per_minute: float | None = Field(None, gt=0, description="prompt + max_tokens per minute; None: no limit")
    backoff_initial: float = Field(0.5, ge=0, description="seconds before the first retry; doubles each retry")
    backoff_max: float = Field(30.0, ge=0)
    breaker_failures: int = Field(8, ge=1, description="failures in a row that open the circuit breaker")
    breaker_pause: float = Field(5.0, ge=0, description="seconds every caller waits while the breaker is open")


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


ErrorKind = Literal["overload", "transient"]


def classify(error: BaseException) -> ErrorKind | None:
    """Overload (429, 503, 529) lowers the rate; transient errors (other 5xx, timeouts, lost
    connections) are retried as they are; anything else (400, 401, 404...) is not retried."""
    if isinstance(error, openai.APIStatusError):
        if error.status_code in (429, 503, 529):
            return "overload"
        if error.status_code >= 500 or error.status_code in (408, 409):
            return "transient"
        return None
    if isinstance(error, openai.APIConnectionError | TimeoutError | ConnectionError):
        return "transient"
    return None


def retry_after(error: BaseException) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TokenBucket:
    """`per_minute` units, refilled continuously; a full bucket holds one minute's worth."""

    def __init__(self, per_minute: float, clock: Clock):
        self.per_minute = per_minute
        self.clock = clock
        self.level = per_minute
        self.stamp = clock.now()

    def wait_time(self, amount: float, factor: float) -> float:
        """Seconds until `amount` can be taken at `factor` of the rate; takes it when 0."""
        now = self.clock.now()
        rate = self.per_minute * factor / 60.0
        capacity = self.per_minute * factor
        self.level = min(capacity, self.level + (now - self.stamp) * rate)
        self.stamp = now
        need = min(amount, capacity)  # a call larger than the bucket waits for a full bucket
        if self.level >= need:
            self.level -= amount
            return 0.0
        return (need - self.level) / rate

    def adjust(self, amount: float) -> None:
        """Charge (or refund) the difference between an estimate and what a call really used."""
        self.level -= amount


class EndpointLimiter:
    """The shared state of one endpoint; every client of that endpoint acquires a slot here."""

    def __init__(self, name: str, limits: EndpointLimits, clock: Clock | None = None, outage: Outage | None = None):
        self.name = name
        self.outage = outage  # None: a call that runs out of retries fails, whatever the reason
        self.last_success = -1e18
        self.limits = limits
        self.clock = clock or RealClock()
        self.factor = 1.0  # the adaptive share of the configured limits
        self.in_flight = 0
        self.failures_in_a_row = 0
        self.open_until = 0.0
        self.breaker_opened = 0
        self._last_decrease = -1e9
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._rpm = TokenBucket(limits.requests_per_minute, self.clock) if limits.requests_per_minute else None
        self._tpm = TokenBucket(limits.tokens_per_minute, self.clock) if limits.tokens_per_minute else None

    @property
    def window(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self.limits.max_in_flight * self.factor))

    async def acquire(self, tokens: float) -> None:
        if self.outage is not None:
            await self.outage.hold()  # new work waits while the endpoint is down
        while True:
            wait = self.open_until - self.clock.now()
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            wait = max(
                self._rpm.wait_time(1, self.factor) if self._rpm else 0.0,
                self._tpm.wait_time(tokens, self.factor) if self._tpm else 0.0,
            )
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            break
        # First come, first served: a freed slot is handed to the longest waiter (counted in
        # `in_flight` before it runs). Woken to race for it instead, waiters lost to newcomers and
        # queued again: 14 wake-ups per call at 128 in flight (bench/throughput.py's pipeline).
        if not self._waiters and self.in_flight < self.window:
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()  # a slot may be free behind waiters that were cancelled
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, then cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to the waiters, in the order they came."""
        while self._waiters and self.in_flight < self.window:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def succeeded(self, token_correction: float = 0.0) -> None:
        self.failures_in_a_row = 0
        self.last_success = self.clock.now()
        if self.outage is not None:
            self.outage.up()
        self.factor = min(1.0, self.factor + RECOVERY_PER_SUCCESS)
        if self._tpm:
            self._tpm.adjust(token_correction)

    def failed(self, kind: ErrorKind) -> None:
        now = self.clock.now()
        self.failures_in_a_row += 1
        # one decrease per backoff period: a burst of 429s from calls already in flight is one signal
        if kind == "overload" and now - self._last_decrease >= max(self.limits.backoff_initial, 0.1):
            self.factor = max(MIN_FACTOR, self.factor / 2)
            self._last_decrease = now
            logger.info("endpoint {} overloaded: rate lowered to {:.0%}", self.name, self.factor)
        if self.failures_in_a_row >= self.limits.breaker_failures and now >= self.open_until:
            self.open_until = now + self.limits.breaker_pause
            self.breaker_opened += 1
            self.failures_in_a_row = 0
            self.factor = MIN_FACTOR  # half-open: the first calls after the pause go one at a time
            logger.info(
                "endpoint {}: {} failures in a row, pausing {:.0f}s", self.name, self.limits.breaker_failures,
                self.limits.breaker_pause,
            )  # fmt: skip

    def backoff(self, attempt: int, hinted: float | None) -> float:
        """Seconds before retry `attempt` (0-based): the server's Retry-After if it gave one,
        else exponential with jitter."""
        if hinted is not None:
            return min(hinted, self.limits.backoff_max)
        base = min(self.limits.backoff_max, self.limits.backoff_initial * 2**attempt)
        return base * random.uniform(0.5, 1.0)


def estimate_tokens(messages: Sequence[LLMMessage], max_tokens: int) -> float:
    """Prompt characters / 4 plus the completion budget: what a call may use, before it is made."""
    chars = sum(len(m.content) if isinstance(m.content, str) else len(json.dumps(str(m.content))) for m in messages)
    return chars / 4 + max_tokens


class LimitedClient(WrappedClient):
    """Every call waits for its endpoint's limiter, runs under a timeout and is retried on
    transient errors and overload, at most `max_retries` times."""

    def __init__(
        self, inner: ChatCompletionClient, limiter: EndpointLimiter, *, timeout: float, max_retries: int,
        max_tokens: int = 0,
    ):  # fmt: skip
        super().__init__(inner)
        self.limiter = limiter
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_tokens = max_tokens

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
        limiter = self.limiter
        estimate = estimate_tokens(messages, self.max_tokens) if limiter.limits.tokens_per_minute else 0.0
        first_failure, rounds = limiter.clock.now(), 0
        while True:
            try:
                return await self._attempts(
                    estimate, messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                    extra_create_args=extra_create_args, cancellation_token=cancellation_token,
                )  # fmt: skip
            except EndpointDown:
                raise
            except Exception as error:
                reason = describe(error)
                if reason is None:
                    raise  # not the endpoint's failure: the flows' bounded attempts deal with it
                outage = limiter.outage
                # no outage handling, or the endpoint answers other calls: this request is the trouble
                if outage is None or (rounds and limiter.last_success > first_failure):
                    if isinstance(error, openai.APIStatusError | TimeoutError):
                        raise
                    raise EndpointError(f"endpoint {limiter.name}: {reason}") from error
                if is_auth(error):
                    raise outage.give_up(reason) from None
                await outage.wait(reason)  # back: a fresh round of retries; gone: EndpointDown
                rounds += 1

    async def _attempts(self, estimate: float, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        """One call and its capped retries on transient errors and overload."""
        limiter = self.limiter
        for attempt in range(self.max_retries + 1):
            await limiter.acquire(estimate)
            try:
                async with asyncio.timeout(self.timeout):  # no task per call, unlike wait_for
                    result = await self.inner.create(messages, **kwargs)
            except Exception as error:
                kind = classify(error)
                if kind is None:
                    raise
                limiter.failed(kind)
                if attempt == self.max_retries:
                    if isinstance(error, TimeoutError):
                        raise TimeoutError(f"no answer from {limiter.name} within {self.timeout:g}s") from error
                    raise
                delay = limiter.backoff(attempt, retry_after(error))
            else:
                used = result.usage.prompt_tokens + result.usage.completion_tokens
                limiter.succeeded(used - estimate if estimate else 0.0)
                return result
            finally:
                limiter.release()
            await limiter.clock.sleep(delay)
        raise AssertionError("unreachable")
