"""An endpoint that went away, told apart from an answer that was bad: a call whose retries all
ended in an endpoint error (refused, unreachable, a 5xx or 429, a timeout) waits here instead of
failing its seed. While the endpoint is down, new calls wait too, and one probe at a time (a cheap
GET of the models list, with backoff) checks whether it is back; past `down_after` seconds the
endpoint is given up on with one line, and every waiting call raises EndpointDown, which the run
loop turns into a clean stop (the seeds it could not finish are done again on resume).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import openai
from loguru import logger

Probe = Callable[[], Awaitable[bool]]
PROBE_FIRST = 0.25  # seconds between probes, doubling ...
PROBE_MAX = 5.0  # ... up to this
PROBE_TIMEOUT = 5.0


class EndpointError(RuntimeError):
    """An endpoint failure, in words ("connection refused"), for a seed's failure reason."""


class EndpointDown(EndpointError):
    """The endpoint stayed down past the run's `endpoint_down_after`, or refused the key: the run
    stops, and resuming it carries on."""


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe(error: BaseException) -> str | None:
    """What failed on the endpoint's side, in words; None when it is not the endpoint's failure
    (a 400, a 404, an answer that did not parse). The openai SDK reports a refused connection
    as a timeout: the cause under it says what it was."""
    if isinstance(error, openai.APIStatusError):
        code = error.status_code
        if code in (401, 403):
            return f"HTTP {code}: the key was refused"
        if code in (408, 409, 429) or code >= 500:
            return f"HTTP {code}"
        return None
    chain = _chain(error)
    if not any(isinstance(e, openai.APIConnectionError | TimeoutError | ConnectionError | OSError) for e in chain):
        return None
    for kind, words in ((ConnectionRefusedError, "connection refused"), (socket.gaierror, "host name not found"),
                        (ConnectionResetError, "connection reset"), (BrokenPipeError, "connection reset")):  # fmt: skip
        if any(isinstance(cause, kind) for cause in chain):
            return words
    for cause in reversed(chain):  # the innermost cause says it best
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError) and cause.strerror:
            return f"unreachable ({cause.strerror.lower()})"
    if any(isinstance(e, openai.APITimeoutError | TimeoutError) for e in chain):
        return "timed out"
    return "connection failed"


def is_auth(error: BaseException) -> bool:
    return isinstance(error, openai.APIStatusError) and error.status_code in (401, 403)


class _Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class Outage:
    """One endpoint's up or down, shared by every call to it."""

    def __init__(self, name: str, url: str, down_after: float, probe: Probe, clock: _Clock):
        self.name, self.url, self.down_after = name, url, down_after
        self.probe, self.clock = probe, clock
        self.down_since: float | None = None  # clock time of the first failure; cleared by a call that succeeds
        self.since_text = ""
        self.reason = ""
        self.paused = False  # new calls wait: until a probe passes
        self.last_up = -1e18  # clock time of the last probe that passed
        self.gone: EndpointDown | None = None
        self._probing = False

    def up(self) -> None:
        """A call succeeded."""
        if self.down_since is not None:
            logger.info("endpoint {} ({}) is back after {:.0f}s", self.name, self.url, self.clock.now() - self.down_since)
        self.down_since, self.paused = None, False

    def give_up(self, reason: str | None = None) -> EndpointDown:
        if self.gone is None:
            if reason is not None:  # the key: no wait helps
                self.reason, self.since_text = reason, _wall_time()
                self.gone = EndpointDown(
                    f"endpoint {self.name} ({self.url}) refused the request ({reason}); "
                    "set the key, then resume the run to carry on"
                )
            else:
                self.gone = EndpointDown(
                    f"endpoint {self.name} ({self.url}) unreachable since {self.since_text} ({self.reason}); "
                    "resume the run to carry on"
                )
            logger.info("{}", self.gone)
        return self.gone

    async def hold(self) -> None:
        """Before a new call: wait while the endpoint is down."""
        if self.gone is not None:
            raise self.gone
        if self.paused:
            await self.wait(self.reason)

    async def wait(self, reason: str) -> None:
        """Until the endpoint answers a probe (returns) or `down_after` has passed since it went
        down (raises EndpointDown)."""
        if self.gone is not None:
            raise self.gone
        now = self.clock.now()
        if self.down_since is None:
            self.down_since, self.since_text, self.reason = now, _wall_time(), reason
            logger.info("endpoint {} ({}) unreachable: {}; new calls wait while it is probed", self.name, self.url, reason)
        self.paused = True
        entered, delay = now, PROBE_FIRST
        while True:
            if self.gone is not None:
                raise self.gone
            if self.down_since is None or self.last_up >= entered:
                return  # a call succeeded, or a probe passed, since this call came to wait
            left = self.down_since + self.down_after - self.clock.now()
            if left <= 0:
                raise self.give_up()
            if not self._probing:
                self._probing = True
                try:
                    ok = await self._probe_once()
                finally:
                    self._probing = False
                if ok:
                    self.last_up, self.paused = self.clock.now(), False
                    return
            await self.clock.sleep(min(delay, max(left, 0.0)))
            delay = min(delay * 2, PROBE_MAX)

    async def _probe_once(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                return await self.probe()
        except Exception:  # noqa: BLE001 - a probe that failed in any way says the endpoint is not back
            return False


def _wall_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def http_probe(base_url: str, api_key_env: str) -> Probe:
    """A GET of `{base_url}/models`: any answer that is not a 5xx or 429 means the server is up
    (the calls themselves say whether it serves them)."""
    url = base_url.rstrip("/") + "/models"

    async def probe() -> bool:
        import aiohttp

        headers: dict[str, Any] = {}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        start = time.monotonic()
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
            logger.debug("probe {}: HTTP {} in {:.2f}s", url, response.status, time.monotonic() - start)
            return response.status < 500 and response.status != 429

    return probe
