"""Run the demo on the embedded model and print its figures: wall time, records per seed, how many
structured answers needed a retry or failed, tokens per record.

    .venv/bin/python bench/demo_figures.py [--seeds examples/seeds] [--max-seeds 2] [--config examples/demo.yaml]

Reads an existing run instead with `--run RUN_ID --out DIR`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def figures(folder: Path, wall: float | None) -> dict[str, object]:
    info = json.loads((folder / "run.json").read_text())
    seeds_file = folder / "seeds.jsonl"
    seeds = [json.loads(line) for line in seeds_file.read_text().splitlines() if line] if seeds_file.exists() else []
    steps: Counter[str] = Counter()
    for transcript in (folder / "transcripts").glob("*.json"):
        teams = json.loads(transcript.read_text())["teams"]
        by_step: dict[tuple[str, str], list[dict]] = {}
        for team in teams:
            by_step.setdefault((team["flow"], team["step"]), []).append(team)
        for attempts in by_step.values():
            if attempts[0]["participants"] and attempts[0]["participants"][0].get("model") == "none":
                continue  # the identity transformer makes no call
            steps["steps"] += 1
            ok = attempts[-1]["status"] == "ok"
            steps["first_try_ok"] += ok and len(attempts) == 1
            steps["ok_after_retry"] += ok and len(attempts) > 1
            steps["failed"] += not ok
            steps["attempts"] += len(attempts)
    totals = info["totals"]
    records = totals["records"]
    return {
        "run": info["run_id"],
        "status": info["status"],
        "model": info["models"]["teacher"],
        "wall_seconds": round(wall, 1) if wall is not None else None,
        "seeds": totals["seeds"],
        "seeds_done": totals["seeds_done"],
        "seeds_failed": totals["seeds_failed"],
        "records": records,
        "records_per_seed": round(records / max(1, totals["seeds"]), 2),
        "structured_steps": steps["steps"],
        "steps_ok_first_try": steps["first_try_ok"],
        "steps_ok_after_retry": steps["ok_after_retry"],
        "steps_failed_after_retries": steps["failed"],
        "model_attempts": steps["attempts"],
        "tokens": totals["tokens"],
        "tokens_per_record": round(totals["tokens"] / records) if records else None,
        "seconds_per_seed": round(wall / max(1, totals["seeds"]), 1) if wall is not None else None,
        "failed_seed_reasons": [s["reason"] for s in seeds if s["status"] == "failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=str(REPO / "examples" / "seeds"))
    parser.add_argument("--max-seeds", default="2")
    parser.add_argument("--config", default=str(REPO / "examples" / "demo.yaml"), help="as make demo uses")
    parser.add_argument("--out", default="/tmp/agentinstruct-bench")
    parser.add_argument("--run", help="report on this existing run instead of starting one")
    args = parser.parse_args()
    out = Path(args.out)
    wall = None
    run_id = args.run
    if run_id is None:
        run_id = f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
        command = [sys.executable, "-m", "teams.cli", "run", "reading_comprehension", "--seeds", args.seeds,
                   "--max-seeds", args.max_seeds, "--config", args.config, "--out", str(out), "--run-id", run_id]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=False)
        wall = time.perf_counter() - start
    print(json.dumps(figures(out / run_id, wall), indent=2))


if __name__ == "__main__":
    main()
