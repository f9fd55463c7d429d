"""`function_calling: auto`: before a run whose agents call tools, each endpoint whose spec says
auto is probed once (agents.models.probe: plain chat, tools, a forced tool choice) and its
agents call tools natively only where a forced tool choice is honoured, through structured
output elsewhere. The answer is kept in run.json, so a resumed run does not probe again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from typing import Any

from loguru import logger

from agents.models.probe import TOOL_PROBES, EndpointReport, probe_endpoint
from agents.models.spec import ModelError, ModelSpec
from teams.runfolder.info import ToolCalling


def _run_sync(coroutine: Coroutine[Any, Any, EndpointReport]) -> EndpointReport:
    """The probe from sync code, whether or not an event loop runs here (its own thread, its own loop)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="agentinstruct-probe")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def probe_tool_calling(spec: ModelSpec) -> ToolCalling:
    """One endpoint's probe; an endpoint that does not even answer a plain chat is refused in one line."""
    report = _run_sync(probe_endpoint(spec, timeout=spec.timeout, only=TOOL_PROBES))
    if not report.works("chat"):
        detail = next((p.detail for p in report.probes if p.name == "chat"), "")
        raise ModelError(
            f"endpoint {spec.endpoint} did not answer the tool-calling probe ({detail}); "
            "check it with `agentinstruct models check`, or set function_calling: true or false to skip the probe"
        )
    return ToolCalling(native=report.native_tools, probes=[p.model_dump() for p in report.probes])


def resolve_tool_calling(
    specs: Iterable[ModelSpec], known: dict[str, ToolCalling]
) -> dict[str, ToolCalling]:
    """endpoint -> how its tools are called, for every spec with `auto` (the embedded model
    needs none: it calls tools through its grammar); endpoints in `known` are not probed again."""
    found: dict[str, ToolCalling] = {}
    for spec in specs:
        if spec.is_local or spec.function_calling != "auto" or spec.endpoint in found:
            continue
        found[spec.endpoint] = known.get(spec.endpoint) or probe_tool_calling(spec)
    return found


def resolved(spec: ModelSpec, calling: dict[str, ToolCalling]) -> ModelSpec:
    """The spec with `auto` replaced by what its endpoint's probe found."""
    if spec.function_calling != "auto" or spec.endpoint not in calling:
        return spec
    return spec.model_copy(update={"function_calling": calling[spec.endpoint].native})


def log_tool_calling(specs: Iterable[ModelSpec], calling: dict[str, ToolCalling], resumed: bool) -> None:
    """One run.log line per endpoint: which way its agents call tools, and why."""
    seen = set()
    for spec in specs:
        if spec.is_local or spec.endpoint in seen:
            continue
        seen.add(spec.endpoint)
        if spec.function_calling == "auto" and spec.endpoint in calling:
            how = "natively" if calling[spec.endpoint].native else "through structured output"
            why = "a forced tool choice is honoured" if calling[spec.endpoint].native else "no forced tool call"
            when = "as probed at " + calling[spec.endpoint].probed_at if resumed else "probed"
            logger.info("endpoint {}: agents call tools {} (function_calling: auto, {}: {})", spec.endpoint, how, when, why)
        else:
            how = "natively" if spec.function_calling is not False else "through structured output"
            logger.info("endpoint {}: agents call tools {} (function_calling: {})", spec.endpoint, how,
                        str(spec.function_calling).lower())  # fmt: skip
