"""`agentinstruct models check`: tiny probes of each configured endpoint (plain chat, JSON-schema
output, JSON-object output, tools, forced tool choice), what works, how fast, and the model spec
to write. Exits 1 when an endpoint cannot serve the flows at all (no structured output) or could
not be reached (then no spec is proposed: failed connections say nothing of what it serves)."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
import yaml

from agents.models.probe import EndpointReport, probe_endpoint
from agents.models.spec import ModelSpec
from teams.cli.common import fail, guarded, out_console
from teams.flows.errors import one_line

models_app = typer.Typer(help="Check the model endpoints a run would call.", no_args_is_help=True)


def _specs(model: str | None, base_url: str | None, config: Path | None) -> list[ModelSpec]:
    if config is None and model is None:
        fail("give --model (and --base-url) or --config")
    specs: list[ModelSpec] = []
    if config is not None:
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            fail(f"{config}: {one_line(exc)}")
        if not isinstance(data, dict) or not isinstance(data.get("models") or {}, dict):
            fail(f"{config}: 'models:' must map roles to model specs")
        specs += [guarded(partial(ModelSpec.model_validate, raw)) for raw in (data.get("models") or {}).values()]
    if model is not None:
        specs.append(guarded(partial(ModelSpec, model=model, base_url=base_url)))
    unique: dict[str, ModelSpec] = {}
    for spec in specs:
        if not spec.is_local:
            unique.setdefault(spec.endpoint, spec)
    return list(unique.values())


def _print(spec: ModelSpec, report: EndpointReport) -> None:
    out_console.print(f"[bold]{report.endpoint}[/bold]", highlight=False)
    for probe in report.probes:
        mark = "[green]ok  [/green]" if probe.ok else "[red]FAIL[/red]"
        out_console.print(f"  {mark} {probe.name:<19} {probe.seconds:7.3f} s  {probe.detail}", highlight=False, markup=True)
    if report.unreachable:
        out_console.print(f"  -> {report.unreachable}: start it or fix the URL, then check again", soft_wrap=True)
        return
    tools = "native tools" if report.native_tools else "tools through structured output"
    verdict = f"serves the flows ({tools})" if report.serves_flows else "cannot serve the flows: no JSON-schema output"
    out_console.print(f"  -> {verdict}; the model spec to write:", highlight=False)
    out_console.print(yaml.safe_dump({"models": {"default": report.spec(spec)}}, sort_keys=False).rstrip(), highlight=False, markup=False)


@models_app.command("check")
def models_check(
    model: Annotated[str | None, typer.Option("--model", help="A model name on an OpenAI-compatible endpoint.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="The endpoint's base URL (e.g. http://127.0.0.1:8080/v1).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="A run's config file: every endpoint it names.")] = None,
) -> None:
    """Probe each endpoint once per capability and print what works."""
    specs = _specs(model, base_url, config)
    if not specs:
        out_console.print("only the embedded model is configured: it serves every flow (tools through its grammar)")
        return
    failed = []
    for spec in specs:
        report = asyncio.run(probe_endpoint(spec))
        _print(spec, report)
        if report.unreachable:
            failed.append(report.unreachable)
        elif not report.serves_flows:
            failed.append(f"{report.endpoint} cannot serve the flows: the agents answer in JSON schemas")
    if failed:
        fail("; ".join(failed), code=1)
