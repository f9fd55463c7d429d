"""A run sharded over a local Ray (2 CPUs) gives the same records as the same run without Ray."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from tests.conftest import comparable, ferry_logs
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import deterministic_responder

ray = pytest.importorskip("ray")
runner = CliRunner()


@pytest.fixture
def local_ray() -> Iterator[None]:
    from teams.engine.ray_runner import runtime_env

    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_a_ray_run_gives_the_same_records_as_a_local_one(local_ray: None, tmp_path: Path) -> None:
    seeds = ferry_logs(tmp_path / "seeds")
    out = tmp_path / "runs"
    with FakeOpenAIServer(deterministic_responder) as server:
        common = ["run", "reading_comprehension", "--seeds", str(seeds), "--model", "fake-model",
                  "--base-url", server.base_url, "--out", str(out), "--concurrency", "2",
                  "--no-dedup"]  # which of two near duplicates is kept depends on the order seeds finish  # fmt: skip
        plain = runner.invoke(app, [*common, "--run-id", "plain"])
        assert plain.exit_code == 0, plain.stderr
        plain_calls = len(server.requests)
        sharded = runner.invoke(app, [*common, "--run-id", "sharded", "--ray"])
        assert sharded.exit_code == 0, sharded.stderr
        assert len(server.requests) == 2 * plain_calls  # its own calls (its own cache), as many
    records = comparable(out / "sharded")
    assert records and records == comparable(out / "plain")
    info = json.loads((out / "sharded" / "run.json").read_text())
    assert info["status"] == "completed" and info["totals"]["calls"] == plain_calls
    assert {r["role"] for r in info["totals"]["usage"]} >= {"instruction_writer", "teacher"}
    # one run folder, like any other: `runs show` reads it
    shown = runner.invoke(app, ["runs", "show", "sharded", "--out", str(out), "--json"])
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)["records"]) == len(records)


def test_a_ray_run_stopped_by_its_budget_resumes_on_ray_to_the_same_records(local_ray: None, tmp_path: Path) -> None:
    seeds = ferry_logs(tmp_path / "seeds")
    out = tmp_path / "runs"
    with FakeOpenAIServer(deterministic_responder) as server:
        common = ["run", "reading_comprehension", "--seeds", str(seeds), "--model", "fake-model",
                  "--base-url", server.base_url, "--out", str(out), "--concurrency", "1", "--no-dedup"]  # fmt: skip
        plain = runner.invoke(app, [*common, "--run-id", "plain"])
        assert plain.exit_code == 0, plain.stderr
        stopped = runner.invoke(app, [*common, "--run-id", "budget", "--ray", "--max-tokens", "20000"])
        assert stopped.exit_code == 4, stopped.stderr
        done_before = json.loads((out / "budget" / "run.json").read_text())["totals"]["seeds_done"]
        assert 0 < done_before < 6
        resumed = runner.invoke(app, ["run", "--resume", "budget", "--out", str(out), "--ray", "--max-tokens", "10000000"])
        assert resumed.exit_code == 0, resumed.stderr
    info = json.loads((out / "budget" / "run.json").read_text())
    assert info["status"] == "completed" and info["totals"]["seeds_done"] == 6 and info["resumed_at"]
    assert comparable(out / "budget") == comparable(out / "plain")
