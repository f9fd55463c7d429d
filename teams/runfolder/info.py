"""run.json and the seeds' lines: what a run was asked (no secrets), what it ran on, how it went,
and the totals, counted in one place from the seeds' lines and the model usage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.models.usage import UsageMeter

RunStatus = Literal[
    "running", "completed", "completed_with_failures", "failed", "stopped", "budget_reached", "endpoint_down"
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SeedStatus(BaseModel):
    """One line of seeds.jsonl."""

    id: str
    source: str
    skill: str | None = None
    chunk: int = 0
    lineage: dict[str, Any] = Field(default_factory=dict, description="where in its source: row, page, corpus_id, headings, language")
    status: Literal["done", "failed"]
    records: int = 0
    tokens: int = Field(0, description="what the seed's model calls spent (answers from the request cache spend none)")
    reason: str | None = None
    failures: list[dict[str, str]] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict, description="records dropped, by why (judge, duplicate...)")


class RunTotals(BaseModel):
    """A run's figures. `tokens` (the seeds' lines added up) is `model_tokens` (every call the run
    paid for, every call being a seed's) less the calls of seeds that have no line: those in
    flight when the run (or an earlier part of it) stopped, interrupted, at its budget or with an
    endpoint down. A resume runs them again; with the request cache on, their calls that had
    finished are answered from it, at no cost."""

    seeds: int = 0
    skipped_documents: int = Field(0, description="files, rows or pages with no text, skipped when the seeds were read")
    seeds_done: int = 0
    seeds_failed: int = 0
    records: int = 0
    step_failures: int = 0
    tokens: int = 0
    dropped: dict[str, int] = Field(default_factory=dict, description="records dropped, by why (judge, duplicate...)")
    # every model call, by role and model (agents.models.usage): calls sent, calls answered by the cache, cost
    calls: int = 0
    cached_calls: int = 0
    model_tokens: int = 0
    cost_usd: float | None = Field(None, description="None: no price for the run's models (config `prices:`)")
    usage: list[dict[str, Any]] = Field(default_factory=list)

    def count(self, seed: SeedStatus) -> None:
        """One committed seed into the totals."""
        self.records += seed.records
        self.tokens += seed.tokens
        self.step_failures += len(seed.failures)
        for why, number in seed.dropped.items():
            self.dropped[why] = self.dropped.get(why, 0) + number
        if seed.status == "done":
            self.seeds_done += 1
        else:
            self.seeds_failed += 1

    def recount(self, seeds: Iterable[SeedStatus]) -> RunTotals:
        """These totals with the seeds' counts as the committed seeds say (run.json may lag behind
        the last seeds committed before a kill), the model usage carried over."""
        totals = self.model_copy(deep=True, update={"seeds_done": 0, "seeds_failed": 0, "records": 0, "tokens": 0,
                                                     "step_failures": 0, "dropped": {}})  # fmt: skip
        for seed in seeds:
            totals.count(seed)
        return totals

    def account(self, meter: UsageMeter) -> None:
        """The model usage so far: calls, cached calls, tokens, cost (when the run has prices)."""
        self.calls, self.cached_calls = meter.calls, meter.cached_calls
        self.model_tokens = meter.tokens
        self.cost_usd = round(meter.cost, 6) if meter.prices else None
        self.usage = [row.model_dump() for row in meter.snapshot()]


class ToolCalling(BaseModel):
    """How one endpoint's agents call tools, as `function_calling: auto` found it: probed once
    per run and kept here, so a resumed run calls them the same way without probing again."""

    native: bool
    probed_at: str = Field(default_factory=now)
    probes: list[dict[str, Any]] = Field(default_factory=list)


class RunInfo(BaseModel):
    """run.json: what was asked for (no secrets), what it ran on, how it went."""

    run_id: str
    skill: str
    skills: dict[str, float] = Field(default_factory=dict, description="a mixed run: skill -> weight")
    status: RunStatus = "running"
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None
    command: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    totals: RunTotals = Field(default_factory=RunTotals)
    stop_reason: str | None = None
    resumed_at: list[str] = Field(default_factory=list)
    tool_calling: dict[str, ToolCalling] = Field(default_factory=dict, description="endpoint -> how tools are called (function_calling: auto)")
