"""How a run sets up the process it runs in (the driver, and every worker process and Ray actor):
AutoGen's logging routed into the run log, its unused tracing off, and the garbage collector
collecting less often while seeds are in flight."""

from __future__ import annotations

import gc
import logging
import re
import warnings
from typing import Any

from loguru import logger

from teams.flows.errors import one_line


class _AutogenToRunLog(logging.Handler):
    """AutoGen logs an agent's failure with a full traceback; our transcript already records
    it, so the run log gets one line and the terminal nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text}: {one_line(record.exc_info[1])}"
        logger.bind(origin=record.name).debug("autogen: {}", text[:500])


def quiet_autogen() -> None:
    """AutoGen's log lines go to the run log (one line each), and its OpenTelemetry spans are
    off unless a tracer provider is configured (e.g. by `opentelemetry-instrument`): a span
    nobody records still costs CPU on every message and model call."""
    for name in ("autogen_core", "autogen_agentchat", "autogen_ext"):
        autogen_logger = logging.getLogger(name)
        autogen_logger.handlers = [_AutogenToRunLog()]
        autogen_logger.setLevel(logging.WARNING)
        autogen_logger.propagate = False
    _autogen_warnings_to_run_log()
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody set one
        trace.set_tracer_provider(trace.NoOpTracerProvider())  # AutoGen's runtimes and agents all ask it
    _skip_unrecorded_message_dumps(isinstance(trace.get_tracer_provider(), trace.NoOpTracerProvider))


#: what AutoGen's runtimes raise, in tasks nobody awaits, when a group chat is stopped mid-turn
_STOPPED_CHAT_ERRORS = re.compile(
    r"task_done\(\) called too many times"  # microsoft/autogen#7007
    r"|Unhandled message in agent container: <class '[\w.]*GroupChatError'>"
)


def quiet_stopped_runtimes(loop: Any) -> None:
    """Keep AutoGen's errors about group chats stopped mid-turn (Ctrl-C) out of the terminal.
    A stopped chat's runtime drains its message queue while its handler tasks are still in flight:
    cancelled at the loop's shutdown, each then calls `task_done()` on the drained queue
    (microsoft/autogen#7007), and the chat's error event reaches agent containers that have no
    handler for it. asyncio printed each ValueError with its traceback, dozens of them after
    "stopped". They are dropped (at the loop's shutdown the run log is closed already); every
    other error reaches the loop's handler as before."""
    previous = loop.get_exception_handler()

    def handle(loop: Any, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ValueError) and _STOPPED_CHAT_ERRORS.fullmatch(str(error)):
            logger.debug("autogen: a stopped group chat's task ended: {}", error)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


def _skip_unrecorded_message_dumps(no_tracing: bool) -> None:
    """AutoGen's group-chat runtime serialises every message it routes to JSON, for an INFO line
    of its event log and for span attributes, before asking whether anyone records them. With
    that log below INFO (above) and no tracing, nobody does: it took 3% of the event loop's busy
    time at 128 seeds in flight (py-spy over bench/throughput.py's pipeline). The dumps are
    skipped then, and kept whenever someone records them."""
    from autogen_core import EVENT_LOGGER_NAME, SingleThreadedAgentRuntime

    runtime: Any = SingleThreadedAgentRuntime
    if not logging.getLogger(EVENT_LOGGER_NAME).isEnabledFor(logging.INFO) and hasattr(runtime, "_try_serialize"):
        runtime._try_serialize = _not_serialised
    if no_tracing and hasattr(runtime, "_create_otel_attributes"):
        runtime._create_otel_attributes = _no_attributes


def _not_serialised(self: Any, message: Any) -> str:
    return ""


async def _no_attributes(self: Any, *args: Any, **kwargs: Any) -> dict[str, str]:
    return {}


#: AutoGen's warnings about an endpoint's answers (its model name, finish reasons, token and cost
#: estimates): its own words, whichever frame `warnings.warn` names
_AUTOGEN_WARNING = re.compile(r"Resolved model mismatch|Finish reason mismatch|token/cost|cost estimation|Tool call function arguments")
_shown: set[str] = set()


def _autogen_warnings_to_run_log() -> None:
    """AutoGen's warnings (e.g. "Resolved model mismatch: smollm2 != /path/model.gguf", when a
    server reports its own model name) go to the run log once each, not to the terminal."""
    show = warnings.showwarning
    if getattr(show, "agentinstruct", False):
        return

    def to_run_log(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None
    ) -> None:
        text = str(message)
        if "/autogen_" not in filename and not _AUTOGEN_WARNING.search(text):  # its packages: autogen_core, autogen_ext
            show(message, category, filename, lineno, file, line)
        elif text not in _shown:
            _shown.add(text)
            logger.bind(origin="autogen").debug("autogen warning: {}", text[:500])

    to_run_log.agentinstruct = True  # type: ignore[attr-defined]
    warnings.showwarning = to_run_log


#: Python's cyclic garbage collector during a run (its defaults: 700, 10, 10)
RUN_GC_THRESHOLDS = (50_000, 20, 20)


def collect_less() -> tuple[int, int, int]:
    """Fewer cyclic garbage collections while seeds are in flight, none of them scanning what was
    loaded before the run (frozen). Every seed makes thousands of short-lived AutoGen objects;
    with Python's defaults the collector ran so often, over so large a heap, that it took a large
    share of a run's CPU and paused the event loop for up to a few hundred ms at a time
    (`bench/throughput.py --default-gc` shows the difference). Returns the thresholds replaced."""
    replaced = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    return replaced


def collect_as_before(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)
    gc.unfreeze()
