"""Refinement and verification figures (issue 12) on the fake endpoint over the example seeds:
records per seed and model calls per kept record with the old refinement settings (one suggestion
a round, one goal per pair, in turn) and with the new defaults (3 suggestions a round, every goal),
the same seeds and otherwise the same settings; and the share of flipped children dropped because
the teacher's answer did not change; and, for a conversation run (the user simulator writing each
turn after the answer before it, up to `turns`, default 3), the user turns per record.

    .venv/bin/python bench/method_figures.py [--seeds examples/seeds] [--rounds 1]

The fake plays a competent model (tests/fakes.py). Its teacher answers an original question with
the first option, as the fake writer's key says; to a refined pair's question it answers with the
option a hash of the question and passage picks, so a flip changes the answer about 3 times in 4.
The dropped share is then the fake's, not a model's: it shows the check at work, not a quality.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fake_openai import FakeOpenAIServer  # noqa: E402
from tests.fakes import _schema, _task_text, deterministic_responder, schema_kind  # noqa: E402

SETTINGS = {
    "old (1 suggestion, 1 goal)": {"suggestions_per_round": 1, "goals_per_instruction": 1},
    "new defaults (3 suggestions, all goals)": {},
}


def responder(request: dict[str, Any]) -> str:
    """The deterministic competent model; a refined pair's multiple-choice or true/false answer by hash."""
    if schema_kind(request) == "answer":
        task = _task_text(request)
        choices = _schema(request)["properties"]["final_answer"].get("enum")
        if choices and "(edited" in task and "[the relevant sentence was removed]" not in task:
            pick = choices[: len(choices) - 1][
                int(hashlib.sha256(task.encode()).hexdigest()[:8], 16) % (len(choices) - 1)
            ]
            return json.dumps(
                {"explanation": "The edited passage now says so in its second sentence.", "final_answer": pick}
            )
    return deterministic_responder(request)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def measure(
    server: FakeOpenAIServer,
    seeds: str,
    flow: dict[str, Any],
    out: Path,
    name: str,
    skill: str = "reading_comprehension",
) -> dict[str, Any]:
    config = out / f"{name}.yaml"
    config.write_text(json.dumps({"flow": flow, "concurrency": 2}), encoding="utf-8")
    before = len(server.requests)
    command = [
        sys.executable, "-m", "teams.cli", "run", skill, "--seeds", seeds, "--model", "fake-model",
        "--base-url", server.base_url, "--out", str(out), "--run-id", name, "--config", str(config), "--seed", "1",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": "x"})
    if done.returncode:
        raise SystemExit(f"run failed: {done.stderr.strip().splitlines()[-1:]}")
    calls = len(server.requests) - before
    folder = out / name
    records, dropped, seed_lines = (
        _lines(folder / "records.jsonl"),
        _lines(folder / "dropped.jsonl"),
        _lines(folder / "seeds.jsonl"),
    )
    candidates = records + dropped
    flipped = [r for r in candidates if (r["meta"].get("refinement") or {}).get("goal") == "flip_answer"]
    keyed_flips = [r for r in flipped if r["meta"]["answer_format"] in ("multiple_choice", "true_false", "numeric")]
    why = [r["meta"].get("dropped") or {} for r in dropped]
    reasons = Counter(d.get("reason", "?") if d.get("by") == "verification" else d.get("by", "?") for d in why)
    unchanged = sum(1 for r in flipped if (r["meta"].get("dropped") or {}).get("reason") == "flip unchanged")
    return {
        "settings": name,
        "seeds": len(seed_lines),
        "records": len(records),
        "records_per_seed": round(len(records) / max(1, len(seed_lines)), 2),
        "refined_records": sum(1 for r in records if r["meta"].get("refinement")),
        "model_calls": calls,
        "calls_per_kept_record": round(calls / len(records), 2) if records else None,
        "flipped_children": len(flipped),
        "flipped_keyed": len(keyed_flips),
        "flipped_dropped_unchanged": unchanged,
        "flipped_unchanged_share": round(unchanged / len(keyed_flips), 2) if keyed_flips else None,
        "dropped_by_reason": dict(reasons),
        "user_turns": dict(sorted(Counter(sum(m["role"] == "user" for m in r["messages"]) for r in records).items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=str(REPO / "examples" / "seeds"))
    parser.add_argument("--rounds", type=int, default=1, help="refinement_rounds (the same in both settings)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(responder) as server:
        for label, flow in SETTINGS.items():
            name = "old" if label.startswith("old") else "new"
            row = measure(server, args.seeds, {"refinement_rounds": args.rounds, **flow}, Path(tmp), name)
            rows.append({**row, "settings": label})
        conversation = measure(server, args.seeds, {}, Path(tmp), "conversation", "conversation")
    print(json.dumps(rows, indent=2))
    print(f"\n{'settings':42} records/seed  calls/kept record  flipped dropped unchanged")
    for r in rows:
        share = f"{r['flipped_dropped_unchanged']}/{r['flipped_keyed']}" if r["flipped_keyed"] else "-"
        print(f"{r['settings']:42} {r['records_per_seed']:12}  {r['calls_per_kept_record']!s:17}  {share:>10}")
    turns = conversation["user_turns"]
    mean = sum(k * v for k, v in turns.items()) / max(1, sum(turns.values()))
    print(f"\nconversation (defaults, turns 3): {conversation['records']} records, user turns per record {mean:.2f} "
          f"(records by user turns: {turns})")  # fmt: skip


if __name__ == "__main__":
    main()
