"""Run every skill once over the example seeds on the embedded model and print, per skill: seeds,
records, and the share of the teacher's answers (and of the seeds) that passed the skill's checks.

    .venv/bin/python bench/skill_figures.py [--max-seeds 16] [--config examples/mixed/demo.yaml]

Reads an existing run instead with `--run RUN_ID --out DIR` (any run: one skill or mixed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def figures(folder: Path) -> list[dict[str, Any]]:
    info = json.loads((folder / "run.json").read_text())
    seeds = _lines(folder / "seeds.jsonl")
    records = _lines(folder / "records.jsonl")
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"seeds": 0, "seeds_with_records": 0, "records": 0, "answers": 0, "answers_passed": 0}
    )
    for seed in seeds:
        row = rows[seed.get("skill") or info["skill"]]
        row["seeds"] += 1
        row["seeds_with_records"] += seed["status"] == "done"
        transcript = folder / "transcripts" / f"{seed['id']}.json"
        if not transcript.exists():
            continue
        last: dict[str, str] = {}
        for team in json.loads(transcript.read_text())["teams"]:
            if team["flow"] == "answer":
                last[team["step"]] = team["status"]  # the final attempt decides
        row["answers"] += len(last)
        row["answers_passed"] += sum(status == "ok" for status in last.values())
    for record in records:
        rows[record["skill"]]["records"] += 1
    table = []
    for skill in sorted(rows):
        row = rows[skill]
        row["answers_passed_share"] = round(row["answers_passed"] / row["answers"], 2) if row["answers"] else None
        table.append({"skill": skill, **row})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=str(REPO / "examples"))
    parser.add_argument("--max-seeds", type=int, default=16)
    parser.add_argument("--config", default=str(REPO / "examples" / "mixed" / "demo.yaml"))
    parser.add_argument("--out", default="runs")
    parser.add_argument("--run", help="read this existing run instead of starting one")
    args = parser.parse_args()
    run_id = args.run
    wall = None
    if run_id is None:
        run_id = f"skill-figures-{int(time.time())}"
        command = [
            sys.executable, "-m", "teams.cli", "run", "--skills", "all", "--seeds", args.seeds,
            "--max-seeds", str(args.max_seeds), "--config", args.config, "--out", args.out, "--run-id", run_id,
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=False)
        wall = round(time.perf_counter() - start, 1)
    rows = figures(Path(args.out) / run_id)
    total = {
        k: sum(r[k] for r in rows) for k in ("seeds", "seeds_with_records", "records", "answers", "answers_passed")
    }
    print(json.dumps({"run": run_id, "wall_seconds": wall, "total": total, "skills": rows}, indent=2))
    print(f"\n{'skill':32} seeds  records  answers passed")
    for r in rows:
        share = f"{r['answers_passed']}/{r['answers']}" if r["answers"] else "-"
        print(f"{r['skill']:32} {r['seeds']:5}  {r['records']:7}  {share:>14}")


if __name__ == "__main__":
    main()
