"""--workers N: seeds shared out to local worker processes give the same run folder as one
process; the endpoint limits are divided among the workers; a worker that dies stops the run
with one line, keeping what was done, and the run resumes; a killed driver leaves no worker.
Every process of a run collects garbage less often, and a run gives the process its settings back."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.models import ModelSpec
from agents.models.limits import EndpointLimits
from teams.cli.app import app
from teams.engine import RUN_GC_THRESHOLDS, RunConfig, run_pipeline
from teams.engine.config import share_limits
from tests.conftest import REPO, comparable, ferry_logs
from tests.fake_openai import FakeOpenAIServer, Faults
from tests.fakes import deterministic_responder

runner = CliRunner()


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return ferry_logs(tmp_path / "seeds")


def run_args(server: FakeOpenAIServer, seeds: Path, out: Path, run_id: str, *extra: str) -> list[str]:
    return [
        "run", "reading_comprehension", "--seeds", str(seeds), "--model", "fake-model", "--base-url",
        server.base_url, "--out", str(out), "--run-id", run_id, "--concurrency", "4",
        "--no-dedup", *extra,  # which of two near duplicates is kept depends on the order seeds finish
    ]  # fmt: skip


def workers_of(pid: int) -> list[int]:
    """The worker processes `pid` spawned (Linux /proc; not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def start_with_workers(args: list[str], server: FakeOpenAIServer) -> tuple[subprocess.Popen[str], list[int]]:
    """`agentinstruct` with `args` in a process of its own, once its workers are calling the model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    driver = subprocess.Popen(
        [sys.executable, "-m", "teams.cli", *args],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(server.requests) < 5 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = workers_of(driver.pid)
    assert len(workers) >= 2, "the driver should have its worker processes"
    return driver, workers


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_share_limits_divides_every_endpoint_limit_among_the_workers() -> None:
    spec = ModelSpec(
        model="m", base_url="http://127.0.0.1:1/v1",
        limits=EndpointLimits(max_in_flight=9, requests_per_minute=600, tokens_per_minute=90_000),
    )  # fmt: skip
    config = RunConfig(skill="reading_comprehension", seeds=Path("."), models={"default": spec, "teacher": spec})
    shared = share_limits(config, 2)
    for role in ("default", "teacher"):
        limits = shared.models[role].limits
        assert (limits.max_in_flight, limits.requests_per_minute, limits.tokens_per_minute) == (5, 300, 45_000)
    assert share_limits(config, 1) is config
    unlimited = RunConfig(skill="reading_comprehension", seeds=Path("."), models={"default": ModelSpec(model="m")})
    assert share_limits(unlimited, 3).models["default"].limits.requests_per_minute is None


def test_a_run_with_worker_processes_gives_the_same_records_as_one_process(seeds: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    with FakeOpenAIServer(deterministic_responder) as server:
        plain = runner.invoke(app, run_args(server, seeds, out, "plain"))
        assert plain.exit_code == 0, plain.stderr
        plain_calls = len(server.requests)
        shared = runner.invoke(app, run_args(server, seeds, out, "shared", "--workers", "2"))
        assert shared.exit_code == 0, shared.stderr
        assert len(server.requests) == 2 * plain_calls  # its own calls (its own cache), as many
    records = comparable(out / "shared")
    assert records and records == comparable(out / "plain")
    info = json.loads((out / "shared" / "run.json").read_text())
    assert info["status"] == "completed" and info["config"]["workers"] == 2
    assert info["totals"]["calls"] == plain_calls  # the workers' usage reached the driver's totals
    assert {r["role"] for r in info["totals"]["usage"]} >= {"instruction_writer", "teacher", "judge"}
    assert "2 worker processes" in (out / "shared" / "run.log").read_text()
    shown = runner.invoke(app, ["runs", "show", "shared", "--out", str(out), "--json"])
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)["records"]) == len(records)


def test_what_a_worker_logs_reaches_the_run_log(seeds: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    with FakeOpenAIServer(deterministic_responder, faults=Faults(error_429=0.3, seed=5)) as server:
        config.write_text(
            f"models:\n  default: {{model: fake-model, base_url: '{server.base_url}', max_retries: 6,\n"
            "             limits: {backoff_initial: 0.01, backoff_max: 0.05}}\n",
            encoding="utf-8",
        )
        result = runner.invoke(app, [
            "run", "reading_comprehension", "--seeds", str(seeds), "--config", str(config), "--out", str(tmp_path),
            "--run-id", "logged", "--workers", "2", "--no-dedup",
        ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    log = (tmp_path / "logged" / "run.log").read_text()
    relayed = [line for line in log.splitlines() if " - worker " in line]
    # a worker's 429s lower its rate; the lines come at the level they were logged (a call whose
    # retries all met 429s may also log the endpoint's pause and return: those are relayed too)
    assert any("overloaded: rate lowered" in line for line in relayed)
    assert all("| INFO " in line and "teams.engine.shards:relay_log" in line for line in relayed)


def test_a_worker_that_dies_stops_the_run_in_one_line_and_the_run_resumes(seeds: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    with FakeOpenAIServer(deterministic_responder, latency=0.05) as server:
        driver, workers = start_with_workers(run_args(server, seeds, out, "crash", "--workers", "2"), server)
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = driver.communicate(timeout=120)
        assert driver.returncode not in (0, None)
        assert "worker process" in stderr and "Traceback" not in stderr
        assert all(not alive(pid) for pid in workers), "the other worker was left running"

        resumed = runner.invoke(app, ["run", "--resume", "crash", "--out", str(out), "--workers", "2"])
        assert resumed.exit_code == 0, resumed.stderr
    seeds_rows = [json.loads(line) for line in (out / "crash" / "seeds.jsonl").read_text().splitlines()]
    assert len(seeds_rows) == 6 and len({s["id"] for s in seeds_rows}) == 6
    assert all(s["status"] == "done" for s in seeds_rows)


def test_workers_leave_when_their_driver_is_killed(seeds: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    with FakeOpenAIServer(deterministic_responder, latency=0.05) as server:
        driver, workers = start_with_workers(run_args(server, seeds, out, "orphans", "--workers", "2"), server)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "a worker outlived its killed driver"


def test_ray_and_workers_together_is_one_line(seeds: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "reading_comprehension", "--seeds", str(seeds), "--workers", "2", "--ray=local", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "--ray and --workers" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("count", ["0", "257"])
def test_a_worker_count_out_of_range_is_one_line(seeds: Path, tmp_path: Path, count: str) -> None:
    result = runner.invoke(app, ["run", "reading_comprehension", "--seeds", str(seeds), "--workers", count])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: workers: ") and result.stderr.count("\n") == 1


def test_a_run_collects_garbage_less_often_and_gives_the_process_its_settings_back(
    seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    before = gc.get_threshold()
    assert before != RUN_GC_THRESHOLDS
    during: list[tuple[tuple[int, int, int], int]] = []
    with FakeOpenAIServer(deterministic_responder) as server:
        config = RunConfig(
            skill="reading_comprehension", seeds=seeds, out=tmp_path, run_id="gc",
            models={"default": ModelSpec(model="fake-model", base_url=server.base_url)},
        )  # fmt: skip

        def seen(*_: object) -> None:
            during.append((gc.get_threshold(), gc.get_freeze_count()))

        _, info = asyncio.run(run_pipeline(config, on_seed=seen))
    assert info.status == "completed" and len(during) == 6
    assert all(thresholds == RUN_GC_THRESHOLDS and frozen > 0 for thresholds, frozen in during)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_worker_process_collects_garbage_as_a_run_does(tmp_path: Path) -> None:
    config = RunConfig(skill="reading_comprehension", seeds=tmp_path, models={"default": ModelSpec(model="fake-model")})
    probe = (
        "import gc, sys; from teams.engine.shards import SeedWorker; SeedWorker(sys.argv[1], 'r1', None); "
        "print(list(gc.get_threshold()), gc.get_freeze_count() > 0)"
    )
    done = subprocess.run([sys.executable, "-c", probe, config.model_dump_json()], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{list(RUN_GC_THRESHOLDS)} True"
