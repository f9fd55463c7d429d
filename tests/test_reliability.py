"""A faulty endpoint, budgets and the dry run, through the CLI against the fake server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from tests.fake_openai import FakeOpenAIServer, Faults
from tests.fakes import competent_responder

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert not text or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for i in range(6):
        (folder / f"s{i}.txt").write_text(
            f"Report {i}: the harbour crane lifted {i + 2} containers an hour before the storm closed the port.",
            encoding="utf-8",
        )
    return folder


def config_file(tmp_path: Path, server: FakeOpenAIServer, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "models:\n"
        f"  default: {{model: fake-model, base_url: '{server.base_url}', timeout: 0.4, max_retries: 2,\n"
        "             limits: {backoff_initial: 0.01, backoff_max: 0.05, breaker_failures: 6, breaker_pause: 0.2}}\n"
        + extra,
        encoding="utf-8",
    )
    return path


def test_500s_429s_timeouts_and_bad_json_leave_every_seed_done_or_failed_with_a_reason(
    seeds: Path, tmp_path: Path
) -> None:
    faults = Faults(error_500=0.1, error_429=0.1, timeout=0.05, bad_json=0.1, timeout_seconds=1.5, seed=3)
    with FakeOpenAIServer(competent_responder, faults=faults) as server:
        config = config_file(tmp_path, server)
        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config), "--out",
            str(tmp_path / "runs"), "--run-id", "faulty", "--concurrency", "3",
        )  # fmt: skip
        assert code in (0, 3), output
        statuses = [s for s in lines(tmp_path / "runs" / "faulty" / "seeds.jsonl")]
    assert sorted(s["source"] for s in statuses) == sorted(str(p) for p in seeds.iterdir())
    assert all(s["status"] == "done" or s["reason"] for s in statuses)
    assert any(s["status"] == "done" for s in statuses)
    records = lines(tmp_path / "runs" / "faulty" / "records.jsonl")
    assert len(records) == sum(s["records"] for s in statuses) and len({r["id"] for r in records}) == len(records)
    info = json.loads((tmp_path / "runs" / "faulty" / "run.json").read_text())
    assert info["status"] == ("completed" if code == 0 else "completed_with_failures")
    # the faults did happen, and the retries (ours, not the SDK's) got past most of them
    answered = len(server.requests)
    assert info["totals"]["calls"] < answered  # failed tries are not billed calls
    attempts_with_errors = [
        t for p in (tmp_path / "runs" / "faulty" / "transcripts").glob("*.json")
        for t in json.loads(p.read_text())["teams"] if t["status"] != "ok"
    ]  # fmt: skip
    assert attempts_with_errors, "bad JSON answers reach the flows, which retry them"


def poisoned(request: dict[str, Any]) -> str:
    """Seeds 1 and 4 get answers that never parse, so every step of theirs fails: the seed does."""
    if re.search(r"Report [14]:", json.dumps(request.get("messages"))):
        return '{"this is": not valid json'
    return competent_responder(request)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_seed_line_carries_the_tokens_its_calls_spent_failed_seeds_too(
    workers: str, seeds: Path, tmp_path: Path
) -> None:
    """Each seed's tokens are what the endpoint billed for its calls (seeds in flight side by side,
    in this process or a worker's, kept apart), so the seeds' lines add up to the run's model tokens."""
    light = "flow: {refinement_rounds: 0, specialists_per_seed: 1, instructions_per_writer: 1}\n"
    with FakeOpenAIServer(poisoned) as server:
        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config_file(tmp_path, server, light)),
            "--out", str(tmp_path / "runs"), "--run-id", "spent", "--concurrency", "3", "--workers", workers,
        )  # fmt: skip
        billed = list(server.answered)
    assert code == 3, output
    rows = {Path(s["source"]).stem: s for s in lines(tmp_path / "runs" / "spent" / "seeds.jsonl")}
    assert {name for name, s in rows.items() if s["status"] == "failed"} == {"s1", "s4"}
    for name in ("s1", "s4"):  # every call a poisoned seed made names its report
        spent = sum(tokens for request, tokens in billed if f"Report {name[1]}:" in json.dumps(request["messages"]))
        assert rows[name]["tokens"] == spent > 0
    assert all(s["tokens"] > 0 for s in rows.values())
    totals = json.loads((tmp_path / "runs" / "spent" / "run.json").read_text())["totals"]
    assert sum(s["tokens"] for s in rows.values()) == totals["tokens"] == totals["model_tokens"]
    assert totals["model_tokens"] == sum(tokens for _, tokens in billed)


def test_a_token_budget_stops_the_run_and_keeps_what_was_done(seeds: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(competent_responder) as server:
        config = config_file(tmp_path, server)
        out = tmp_path / "runs"
        args = ["--config", str(config), "--out", str(out), "--concurrency", "1"]
        code, output = cli("run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "full", *args)
        assert code == 0, output
        full = json.loads((out / "full" / "run.json").read_text())["totals"]
        per_seed = full["model_tokens"] / 6

        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "capped", *args,
            "--max-tokens", str(int(per_seed * 2.5)),
        )  # fmt: skip
        assert code == 4, output
        assert "max_tokens" in output and "--resume capped" in output
        info = json.loads((out / "capped" / "run.json").read_text())
        assert info["status"] == "budget_reached" and "max_tokens" in info["stop_reason"]
        kept = lines(out / "capped" / "seeds.jsonl")
        assert 1 <= len(kept) < 6 and info["totals"]["seeds_done"] == len(kept)
        records = lines(out / "capped" / "records.jsonl")
        assert len(records) == sum(s["records"] for s in kept) > 0
        assert info["totals"]["model_tokens"] >= per_seed * 2.5

        # more budget, same run: it carries on from where it stopped
        code, output = cli("run", "--resume", "capped", "--out", str(out), "--max-tokens", str(int(per_seed * 100)))
        assert code == 0, output
        assert len(lines(out / "capped" / "seeds.jsonl")) == 6


def test_a_cost_budget_uses_the_price_table(seeds: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(competent_responder) as server:
        # one suggestion and one goal a pair, so that a seed reaches its teacher within the budget
        light = "flow: {suggestions_per_round: 1, goals_per_instruction: 1}\n"
        config = config_file(tmp_path, server, "prices:\n  fake-model: {prompt: 100, completion: 400}\n" + light)
        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config), "--out",
            str(tmp_path / "runs"), "--run-id", "priced", "--concurrency", "1", "--max-cost", "1.5",
        )  # fmt: skip
    assert code == 4, output
    info = json.loads((tmp_path / "runs" / "priced" / "run.json").read_text())
    totals = info["totals"]
    assert info["status"] == "budget_reached" and totals["cost_usd"] >= 1.5
    assert totals["cost_usd"] == pytest.approx(
        sum(r["prompt_tokens"] * 100 + r["completion_tokens"] * 400 for r in totals["usage"]) / 1e6, rel=1e-3
    )
    assert {r["role"] for r in totals["usage"]} >= {"instruction_writer", "suggester", "editor", "teacher"}
    assert 1 <= len(lines(tmp_path / "runs" / "priced" / "seeds.jsonl")) < 6


def test_a_budget_from_the_config_says_what_was_spent_once_and_names_no_flag(seeds: Path, tmp_path: Path) -> None:
    """Calls in flight when the budget is reached still finish and are paid: the stop line said
    what was spent at that moment, the summary what was spent in the end, and it named --max-cost
    though the budget came from the config file."""
    with FakeOpenAIServer(competent_responder) as server:
        priced = "prices:\n  fake-model: {prompt: 100, completion: 400}\nbudget: {max_cost: 1.5}\n"
        config = config_file(tmp_path, server, priced)
        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config), "--out",
            str(tmp_path / "runs"), "--run-id", "capped", "--concurrency", "3",
        )  # fmt: skip
    assert code == 4, output
    info = json.loads((tmp_path / "runs" / "capped" / "run.json").read_text())
    spent = f"${info['totals']['cost_usd']:.4f}"
    assert info["stop_reason"] == f"max_cost $1.5 reached (spent {spent})"
    assert "--max-cost" not in output
    said = " ".join(line for line in output.splitlines() if "•" not in line)  # the progress bar's live figures aside
    assert set(re.findall(r"\$\d+\.\d{4}", said)) == {spent}, output


def test_a_dry_run_estimates_from_a_sample_and_the_run_carries_on_from_it(seeds: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(competent_responder) as server:
        config = config_file(tmp_path, server, "prices:\n  fake-model: {prompt: 1, completion: 2}\n")
        out = tmp_path / "runs"
        code, output = cli(
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config), "--out", str(out),
            "--run-id", "dry", "--dry-run", "--sample", "2",
        )  # fmt: skip
        assert code == 0, output
        assert "dry run: 2 seeds took" in output and "for all 6 seeds expect about" in output
        assert "agentinstruct run --resume dry" in output
        info = json.loads((out / "dry" / "run.json").read_text())
        assert info["status"] == "stopped" and len(lines(out / "dry" / "seeds.jsonl")) == 2
        sample_calls = len(server.requests)
        code, output = cli("run", "--resume", "dry", "--out", str(out))
        assert code == 0, output
    assert len(lines(out / "dry" / "seeds.jsonl")) == 6
    assert len(server.requests) > sample_calls
