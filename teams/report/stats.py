"""`agentinstruct runs stats`: what a run made and what it cost, from its folder alone.

Check pass rates come from the transcripts (every attempt of every team, with its status) and
seeds.jsonl (the steps given up); judge scores from the records' meta and dropped.jsonl; the
diversity figure is the mean pairwise cosine distance of the kept instructions' embeddings
(bundled MiniLM), computed exactly from their sum: for unit vectors, the mean similarity of all
pairs is (|sum|^2 - n) / (n (n - 1)).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel, Field

from retrieval.embedding import embed_texts
from teams.flows.types import SeedTranscript
from teams.runfolder.folder import RunFolder
from teams.runfolder.records import instruction_text

SCORE_BINS = [(1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.5), (4.5, 5.01)]


class FlowChecks(BaseModel):
    attempts: int = 0
    passed: int = 0
    steps_given_up: int = 0

    @property
    def pass_rate(self) -> float | None:
        return round(self.passed / self.attempts, 3) if self.attempts else None


class RunStats(BaseModel):
    run_id: str
    status: str
    records: int
    seeds: dict[str, int]
    by_skill: dict[str, int]
    by_subcategory: dict[str, dict[str, int]]
    checks: dict[str, dict[str, Any]] = Field(description="per flow: attempts, passed, pass_rate, steps_given_up")
    judge: dict[str, Any]
    dropped: dict[str, int]
    tokens: int
    tokens_per_record: float | None
    cost: float | None = None
    cost_per_record: float | None = None
    diversity: float | None = Field(None, description="mean pairwise cosine distance of the kept instructions")


def check_rates(folder: RunFolder, seeds: list[dict[str, Any]]) -> dict[str, FlowChecks]:
    flows: dict[str, FlowChecks] = defaultdict(FlowChecks)
    for seed in seeds:
        path = folder.transcript_path(seed["id"])
        try:
            teams = SeedTranscript.model_validate_json(path.read_text(encoding="utf-8")).teams if path.is_file() else []
        except (UnicodeDecodeError, ValueError):
            teams = []  # a torn transcript: its attempts are not counted
        if teams:
            for team in teams:
                if team.step.startswith("transform:identity"):
                    continue  # no model call, nothing checked
                flows[team.flow].attempts += 1
                flows[team.flow].passed += team.status == "ok"
        for failure in seed.get("failures", []):
            flows[failure["flow"]].steps_given_up += 1
    return dict(flows)


def judge_summary(records: list[dict[str, Any]], dropped: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [r["meta"]["judge"]["score"] for r in records + dropped if (r.get("meta") or {}).get("judge")]
    by_judge = sum(1 for r in dropped if (r["meta"].get("dropped") or {}).get("by") == "judge")
    if not scores:
        return {"judged": 0, "dropped": by_judge}
    histogram = {f"{low:g}-{min(high, 5):g}": sum(1 for s in scores if low <= s < high) for low, high in SCORE_BINS}
    criteria: dict[str, list[int]] = defaultdict(list)
    for r in records:
        for name, value in ((r["meta"].get("judge") or {}).get("scores") or {}).items():
            criteria[name].append(value)
    return {
        "judged": len(scores),
        "dropped": by_judge,
        "mean": round(statistics.fmean(scores), 2),
        "median": statistics.median(scores),
        "min": min(scores),
        "max": max(scores),
        "histogram": histogram,
        "kept_mean_by_criterion": {name: round(statistics.fmean(v), 2) for name, v in sorted(criteria.items())},
    }


def diversity(folder: RunFolder, records: list[dict[str, Any]]) -> float | None:
    """Mean pairwise cosine distance of the kept instructions (0: all alike; about 1: unrelated)."""
    if len(records) < 2:
        return None
    import numpy as np

    vectors = embed_texts([instruction_text(r) for r in records])
    matrix = np.asarray(vectors, dtype=np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    n = len(matrix)
    total = matrix.sum(axis=0)
    mean_similarity = (float(total @ total) - n) / (n * (n - 1))
    return round(1.0 - mean_similarity, 4)


def run_stats(
    folder: RunFolder,
    with_diversity: bool = True,
    *,
    records: list[dict[str, Any]] | None = None,
    seeds: list[dict[str, Any]] | None = None,
    dropped_rows: list[dict[str, Any]] | None = None,
) -> RunStats:
    """The run's figures; a caller that has read the folder's rows already passes them in."""
    info = folder.info()
    records = folder.records() if records is None else records
    seeds = folder.seeds() if seeds is None else seeds
    dropped_rows = folder.dropped() if dropped_rows is None else dropped_rows
    by_sub: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        by_sub[r["skill"]][r["subcategory"]] += 1
    dropped: Counter[str] = Counter()
    for seed in seeds:
        dropped.update(seed.get("dropped") or {})
    # every model call, as the run counted them (what it printed): the seeds' transcripts leave out
    # calls outside a team (the user simulator) and a failed attempt's; old runs have only those
    tokens = info.totals.model_tokens or sum(s.get("tokens", 0) for s in seeds) or info.totals.tokens
    cost = info.totals.cost_usd
    checks = check_rates(folder, seeds)
    return RunStats(
        run_id=info.run_id,
        status=info.status,
        records=len(records),
        seeds={
            "total": info.totals.seeds,
            "done": sum(s["status"] == "done" for s in seeds),
            "failed": sum(s["status"] == "failed" for s in seeds),
        },
        by_skill=dict(Counter(r["skill"] for r in records)),
        by_subcategory={skill: dict(counts.most_common()) for skill, counts in by_sub.items()},
        checks={flow: {**c.model_dump(), "pass_rate": c.pass_rate} for flow, c in checks.items()},
        judge=judge_summary(records, dropped_rows),
        dropped=dict(dropped),
        tokens=tokens,
        tokens_per_record=round(tokens / len(records), 1) if records else None,
        cost=cost,
        cost_per_record=round(cost / len(records), 6) if cost is not None and records else None,
        diversity=diversity(folder, records) if with_diversity else None,
    )
