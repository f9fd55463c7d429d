"""Running at scale, from the command line: resuming a run from its run.json, a dry run's
estimate, and handing the seeds to Ray workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from teams.pipeline import PreparedRun, RunConfig
from teams.run_folder import RunFolder, RunInfo

# what a resumed run may change: how fast and how far it goes, not what it asks the models
RESUME_OVERRIDES = ("concurrency", "workers")


def resume_config(out: Path, run_id: str, overrides: dict[str, Any]) -> RunConfig:
    """The interrupted run's own config (from its run.json), with the limits given now."""
    info = RunFolder.open(out, run_id).info()
    data = dict(info.config)
    data["out"], data["run_id"] = str(out), run_id
    for key in RESUME_OVERRIDES:
        if overrides.get(key) is not None:
            data[key] = overrides[key]
    apply_limits(data, overrides)
    return RunConfig.model_validate(data)


def apply_limits(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """--max-cost, --max-tokens and --no-cache onto a config's data, alike for a new run and a resumed one."""
    budget = dict(data.get("budget") or {})
    for key in ("max_cost", "max_tokens"):
        if overrides.get(key) is not None:
            budget[key] = overrides[key]
    data["budget"] = budget
    if overrides.get("no_cache"):
        data["cache"] = False


def dry_run_estimate(info: RunInfo, before: int) -> str:
    """Per-seed averages of the sample, times every seed of the run."""
    t = info.totals
    sampled = t.seeds_done + t.seeds_failed - before
    if sampled <= 0:
        return "dry run: no seed was left to sample"
    scale = t.seeds / sampled
    calls = t.calls + t.cached_calls
    cost = t.cost_usd or 0.0
    return (
        f"dry run: {sampled} seed{'' if sampled == 1 else 's'} took {calls:,} model calls, {t.model_tokens:,} tokens, ${cost:.4f} "
        f"and gave {t.records} records; for all {t.seeds} seeds expect about {calls * scale:,.0f} calls, "
        f"{t.model_tokens * scale:,.0f} tokens, ${cost * scale:.2f} and {t.records * scale:,.0f} records.\n"
        f"carry on (the sample is kept and not paid again): agentinstruct run --resume {info.run_id}"
        f"{'' if str(info.config.get('out')) == 'runs' else ' --out ' + str(info.config.get('out'))}"
    )


def use_ray(run: PreparedRun, address: str) -> None:
    """Seeds go to Ray workers; this process stays the only writer of the run folder."""
    from teams.ray_runner import RayProcessor

    run.processor = RayProcessor(run, None if address == "local" else address)
