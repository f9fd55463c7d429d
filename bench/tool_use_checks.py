"""The share of tool-use samples that pass the checks, from a run (by default a fresh one on the
embedded model over the example code seeds with the light settings of examples/tool_use.yaml):

    .venv/bin/python bench/tool_use_checks.py [--seeds examples/code] [--config examples/tool_use.yaml]
    .venv/bin/python bench/tool_use_checks.py --run RUN_ID --out DIR      # read an existing run

A sample is one task's conversation; each attempt is checked, failing ones retried up to
max_attempts. Printed: tasks, tasks whose conversation passed the checks (and their share), records
kept after the run's quality gate, the share of conversation attempts that passed, and the most
common reasons for failing.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def figures(folder: Path) -> dict[str, object]:
    attempts: list[dict[str, object]] = []
    tasks: set[tuple[str, str]] = set()
    for path in (folder / "transcripts").glob("*.json"):
        for team in json.loads(path.read_text())["teams"]:
            if team["step"].startswith("conversation:"):
                attempts.append({**team, "_seed": path.stem})
                tasks.add((path.stem, team["step"]))
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines() if line] if (
        folder / "records.jsonl").exists() else []  # fmt: skip
    reasons: Counter[str] = Counter()
    for team in attempts:
        for reason in str(team.get("error") or "").split("; "):
            if reason:
                reasons[re.sub(r"'[^']*'", "X", reason)] += 1
    passed = sum(1 for t in attempts if t["status"] == "ok")
    tasks_passing = {(t["_seed"], t["step"]) for t in attempts if t["status"] == "ok"}
    return {
        "tasks": len(tasks),
        "tasks_passing_checks": len(tasks_passing),
        "task_share_passing": round(len(tasks_passing) / len(tasks), 3) if tasks else 0.0,
        "records": len(records),  # after the run's quality gate (duplicates dropped)
        "conversation_attempts": len(attempts),
        "attempt_share_passing": round(passed / len(attempts), 3) if attempts else 0.0,
        "by_task_type": dict(Counter(r["subcategory"] for r in records)),
        "top_failure_reasons": reasons.most_common(6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default=str(REPO / "examples" / "code"))
    parser.add_argument("--config", default=str(REPO / "examples" / "tool_use.yaml"))
    parser.add_argument("--out", type=Path, default=REPO / "runs")
    parser.add_argument("--run", help="read this existing run instead of starting one")
    args = parser.parse_args()
    wall = None
    if args.run is None:
        args.run = f"bench-tool-use-{int(time.time())}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "teams.cli", "run", "tool_use", "--seeds", args.seeds, "--config",
                        args.config, "--out", str(args.out), "--run-id", args.run], cwd=REPO, check=False)  # fmt: skip
        wall = round(time.perf_counter() - start, 1)
    result = figures(args.out / args.run)
    if wall is not None:
        result["wall_seconds"] = wall
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
