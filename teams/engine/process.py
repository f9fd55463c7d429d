"""How a run sets up the process it runs in (the driver, and every worker process and Ray actor):
AutoGen's logging routed into the run log, its unused tracing off, and the garbage collector
collecting less often while seeds are in flight."""

from __future__ import annotations

import gc
import logging

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
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody set one
        trace.set_tracer_provider(trace.NoOpTracerProvider())  # AutoGen's runtimes and agents all ask it


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
