"""The layers around every model client, on fakes and a fake clock (no real sleeping):
endpoint limits, backoff, the circuit breaker, timeouts, the request cache, usage and budget."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from autogen_core.models import CreateResult, RequestUsage, UserMessage

from agents.models import ModelPool, ModelSpec, Sampling
from agents.models import cache as cache_module
from agents.models.cache import CachedClient, RequestCache
from agents.models.limits import MIN_FACTOR, EndpointLimiter, EndpointLimits, LimitedClient, classify
from agents.models.usage import Budget, MeteredClient, Price, UsageMeter
from agents.models.wrapping import WrappedClient


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def status_error(code: int, retry_after: str | None = None) -> openai.APIStatusError:
    headers = {"retry-after": retry_after} if retry_after else {}
    response = httpx.Response(code, headers=headers, request=httpx.Request("POST", "http://127.0.0.1/v1"))
    kinds = {429: openai.RateLimitError, 400: openai.BadRequestError, 500: openai.InternalServerError}
    return kinds.get(code, openai.APIStatusError)(f"error {code}", response=response, body=None)


def ok(text: str = "fine", tokens: int = 10) -> CreateResult:
    return CreateResult(
        content=text, usage=RequestUsage(prompt_tokens=tokens, completion_tokens=tokens), finish_reason="stop",
        cached=False,
    )  # fmt: skip


class Scripted(WrappedClient):
    """Answers from a script of results and errors; records how many calls ran at once."""

    def __init__(self, script: Sequence[CreateResult | BaseException] = (), steps: int = 3):
        self.script = list(script)
        self.calls = 0
        self.running = 0
        self.peak = 0
        self.steps = steps

    async def create(self, messages: Sequence[Any], **kwargs: Any) -> CreateResult:  # type: ignore[override]
        self.calls += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            for _ in range(self.steps):
                await asyncio.sleep(0)
            item = self.script.pop(0) if self.script else ok(f"answer {self.calls}")
            if isinstance(item, BaseException):
                raise item
            return item
        finally:
            self.running -= 1

    async def close(self) -> None:
        pass


MESSAGES = [UserMessage(content="What is a bee?", source="user")]


def limited(inner: Scripted, clock: FakeClock, max_retries: int = 3, **limits: Any) -> LimitedClient:
    limiter = EndpointLimiter("fake", EndpointLimits(**limits), clock)
    return LimitedClient(inner, limiter, timeout=5, max_retries=max_retries, max_tokens=100)


async def test_overload_is_retried_with_the_servers_retry_after_and_halves_the_rate() -> None:
    clock = FakeClock()
    inner = Scripted([status_error(429, retry_after="7"), status_error(429), ok("third time")])
    client = limited(inner, clock, backoff_initial=1.0)
    result = await client.create(MESSAGES)
    assert result.content == "third time" and inner.calls == 3
    assert clock.sleeps[0] == 7.0  # the server's Retry-After
    assert 0.5 * 2 <= clock.sleeps[1] <= 2.0  # exponential with jitter: attempt 1 -> 1 s * 2 * [0.5, 1]
    assert client.limiter.factor < 1.0 and client.limiter.window < 64


async def test_retries_are_capped_and_other_errors_are_not_retried() -> None:
    clock = FakeClock()
    inner = Scripted([status_error(500)] * 10)
    with pytest.raises(openai.InternalServerError):
        await limited(inner, clock, max_retries=2).create(MESSAGES)
    assert inner.calls == 3  # one call and two retries

    inner = Scripted([status_error(400)])
    with pytest.raises(openai.BadRequestError):
        await limited(inner, clock).create(MESSAGES)
    assert inner.calls == 1
    assert classify(status_error(400)) is None and classify(TimeoutError()) == "transient"


async def test_requests_in_flight_are_capped_for_the_whole_endpoint() -> None:
    clock = FakeClock()
    inner = Scripted(steps=5)
    limiter = EndpointLimiter("fake", EndpointLimits(max_in_flight=3), clock)
    # two clients (two personas' sampling settings) on one endpoint share one limiter
    clients = [LimitedClient(inner, limiter, timeout=5, max_retries=0) for _ in range(2)]
    results = await asyncio.gather(*(clients[i % 2].create(MESSAGES) for i in range(20)))
    assert len(results) == 20 and inner.peak == 3 and limiter.in_flight == 0


async def test_a_freed_slot_goes_to_the_longest_waiter_and_a_cancelled_waiter_passes_its_turn() -> None:
    limiter = EndpointLimiter("fake", EndpointLimits(max_in_flight=2), FakeClock())
    await limiter.acquire(0)
    await limiter.acquire(0)
    served: list[str] = []

    async def call(name: str) -> None:
        await limiter.acquire(0)
        served.append(name)

    waiting = {name: asyncio.ensure_future(call(name)) for name in ("a", "b", "c", "d")}
    await asyncio.sleep(0)
    waiting["b"].cancel()  # gives up before its turn: it leaves the queue
    await asyncio.sleep(0)
    late = asyncio.ensure_future(call("late"))  # asks before the waiters woken below have run
    limiter.release()
    limiter.release()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # the two freed slots went to the waiters in their order, not to the newcomer
    assert served == ["a", "c"] and limiter.in_flight == 2 and not late.done()
    limiter.release()
    waiting["d"].cancel()  # handed the slot, then cancelled before it ran: the slot goes on
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert served == ["a", "c", "late"] and limiter.in_flight == 2 and not limiter._waiters
    assert waiting["b"].cancelled() and waiting["d"].cancelled()


async def test_requests_per_minute_are_a_token_bucket() -> None:
    clock = FakeClock()
    inner = Scripted()
    client = limited(inner, clock, requests_per_minute=6)  # a burst of 6, then one every 10 s
    await asyncio.gather(*(client.create(MESSAGES) for _ in range(8)))
    assert inner.calls == 8
    assert 19.9 <= clock.t - 1000.0 <= 20.1


async def test_tokens_per_minute_count_the_prompt_and_the_completion_budget() -> None:
    clock = FakeClock()
    inner = Scripted()
    client = limited(inner, clock, tokens_per_minute=300)  # each call may use ~104 tokens (max_tokens 100)
    await asyncio.gather(*(client.create(MESSAGES) for _ in range(4)))
    assert inner.calls == 4 and clock.t > 1000.0  # the fourth call had to wait for the bucket


async def test_the_breaker_pauses_every_caller_then_lets_calls_through_one_at_a_time() -> None:
    clock = FakeClock()
    limiter = EndpointLimiter("fake", EndpointLimits(breaker_failures=3, breaker_pause=30, backoff_initial=0), clock)
    inner = Scripted([status_error(500)] * 3)
    client = LimitedClient(inner, limiter, timeout=5, max_retries=5)
    assert (await client.create(MESSAGES)).content == "answer 4"
    assert limiter.breaker_opened == 1 and 30.0 in clock.sleeps  # paused, not hammering
    assert limiter.factor <= MIN_FACTOR + 0.011  # half-open: it climbs back from one call at a time


async def test_a_call_that_hangs_is_timed_out_and_retried() -> None:
    class Hanging(Scripted):
        async def create(self, messages: Sequence[Any], **kwargs: Any) -> CreateResult:  # type: ignore[override]
            self.calls += 1
            if self.calls == 1:
                await asyncio.sleep(60)
            return ok("after the timeout")

    inner = Hanging()
    limiter = EndpointLimiter("fake", EndpointLimits(backoff_initial=0))
    client = LimitedClient(inner, limiter, timeout=0.05, max_retries=1)
    assert (await client.create(MESSAGES)).content == "after the timeout" and inner.calls == 2


async def test_the_cache_replays_each_occurrence_and_keys_on_the_client(tmp_path: Path) -> None:
    inner = Scripted()
    identity = {"endpoint": "http://e/v1#m", "model": "m", "sampling": {"temperature": 0.7}}
    first = CachedClient(inner, RequestCache(tmp_path), identity)
    answers = [(await first.create(MESSAGES)).content for _ in range(2)]
    assert answers == ["answer 1", "answer 2"]  # the same request twice (a retry) is two calls
    first.cache.close()

    resumed = CachedClient(inner, RequestCache(tmp_path), identity)
    replayed = [await resumed.create(MESSAGES) for _ in range(2)]
    assert [r.content for r in replayed] == answers and all(r.cached for r in replayed)
    assert inner.calls == 2  # nothing repeated
    assert (await resumed.create(MESSAGES)).content == "answer 3"  # a third occurrence is new

    hotter = CachedClient(inner, RequestCache(tmp_path), {**identity, "sampling": {"temperature": 1.0}})
    assert (await hotter.create(MESSAGES)).cached is False  # other sampling, other entry
    other_model = CachedClient(inner, RequestCache(tmp_path), {**identity, "model": "m2"})
    assert (await other_model.create(MESSAGES)).cached is False


def test_only_recent_requests_keep_their_occurrence_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "RECENT_REQUESTS", 3)
    cache = RequestCache(tmp_path)
    assert [cache.next_key("a"), cache.next_key("b"), cache.next_key("a")] == ["a:0", "b:0", "a:1"]
    for other in ("c", "d"):
        cache.next_key(other)
    assert cache.next_key("a") == "a:2"  # made again recently: still counted
    assert cache.next_key("b") == "b:0"  # the least recent was forgotten: memory stays flat
    assert len(cache._occurrences) == 3


async def test_usage_is_metered_per_role_and_model_and_the_budget_calls_back() -> None:
    reasons: list[str] = []
    meter = UsageMeter({"m": Price(prompt=1000.0, completion=2000.0)}, Budget(max_cost=0.1), reasons.append)
    inner = Scripted([ok(tokens=10), ok(tokens=10)])
    teacher = MeteredClient(inner, meter, "teacher", "m")
    writer = MeteredClient(inner, meter, "instruction_writer", "m")
    await teacher.create(MESSAGES)
    assert meter.cost == pytest.approx(0.03) and not reasons
    await writer.create(MESSAGES)
    cached = ok(tokens=10)
    cached.cached = True
    meter.record("teacher", "m", cached)
    rows = {(r.role, r.model): r for r in meter.snapshot()}
    assert rows[("teacher", "m")].calls == 1 and rows[("teacher", "m")].cached_calls == 1
    assert rows[("instruction_writer", "m")].prompt_tokens == 10
    assert meter.tokens == 40 and meter.cost == pytest.approx(0.06) and not reasons
    meter.merge([rows[("teacher", "m")]])
    meter.merge([rows[("teacher", "m")]])
    assert len(reasons) == 1 and reasons[0].startswith("max_cost $0.1 reached")


def test_the_pool_shares_one_limiter_per_endpoint_and_stacks_the_layers(tmp_path: Path) -> None:
    def factory(spec: ModelSpec, sampling: Sampling) -> Scripted:
        return Scripted()

    url = "http://127.0.0.1:1/v1"
    specs = {
        "teacher": ModelSpec(model="big", base_url=url, limits=EndpointLimits(max_in_flight=5)),
        "editor": ModelSpec(model="big", base_url=url),
        "default": ModelSpec(model="small", base_url=url),
    }
    pool = ModelPool(specs, factory, cache=RequestCache(tmp_path), meter=UsageMeter())
    teacher = pool.client_for("teacher", Sampling(temperature=0.1))
    editor = pool.client_for("editor", Sampling(temperature=0.9))
    pool.client_for("transformer", Sampling())
    assert isinstance(teacher, MeteredClient) and isinstance(teacher.inner, CachedClient)
    assert isinstance(editor, MeteredClient) and isinstance(editor.inner, CachedClient)
    limited_teacher, limited_editor = teacher.inner.inner, editor.inner.inner
    assert isinstance(limited_teacher, LimitedClient) and isinstance(limited_editor, LimitedClient)
    assert limited_teacher.limiter is limited_editor.limiter and limited_teacher.limiter.limits.max_in_flight == 5
    assert len(pool.limiters) == 2  # big and small
