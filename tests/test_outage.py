"""An endpoint that goes away: the run pauses and probes it, stops in one line if it stays down
(no seed recorded as failed), carries on when it comes back; --retry-failed re-runs exactly the
seeds that failed on content. Through the CLI against the fake server."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
from typer.testing import CliRunner

from agents.models.outage import describe
from teams.cli.app import app
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder

runner = CliRunner()
LIGHT = "flow: {refinement_rounds: 0, specialists_per_seed: 1, instructions_per_writer: 1, judge_threshold: 0}\n"


def free_port() -> int:
    """A port nobody listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_seeds(folder: Path, count: int, poisoned: set[int] = frozenset()) -> Path:  # type: ignore[assignment]
    folder.mkdir()
    for i in range(count):
        mark = " POISON" if i in poisoned else ""
        (folder / f"s{i:02}.txt").write_text(
            f"Report {i}{mark}: the harbour crane lifted {i + 2} containers an hour before the storm closed the port.",
            encoding="utf-8",
        )
    return folder


def config(tmp_path: Path, port: int, down_after: float, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "models:\n"
        f"  default: {{model: fake-model, base_url: 'http://127.0.0.1:{port}/v1', timeout: 2, max_retries: 2,\n"
        "             limits: {backoff_initial: 0.01, backoff_max: 0.05, breaker_failures: 6, breaker_pause: 0.2}}\n"
        f"endpoint_down_after: {down_after}\n" + LIGHT + extra,
        encoding="utf-8",
    )
    return path


def seed_lines(run: Path) -> list[dict[str, Any]]:
    path = run / "seeds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_cli(*args: str) -> tuple[int, str, str, float]:
    start = time.monotonic()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr, time.monotonic() - start


def test_endpoint_failures_are_told_apart_from_bad_requests_and_say_what_they_were() -> None:
    request = httpx.Request("POST", "http://x/v1/chat/completions")

    def status(code: int) -> openai.APIStatusError:
        return openai.APIStatusError("boom", response=httpx.Response(code, request=request), body=None)

    refused = openai.APITimeoutError(request)
    refused.__cause__ = OSError("Cannot connect")
    refused.__cause__.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    assert describe(refused) == "connection refused"
    unknown_host = openai.APIConnectionError(request=request)
    unknown_host.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert describe(unknown_host) == "host name not found"
    assert describe(TimeoutError("slow")) == "timed out"
    assert describe(status(503)) == "HTTP 503" and describe(status(429)) == "HTTP 429"
    assert describe(status(401)) == "HTTP 401: the key was refused"
    assert describe(status(400)) is None and describe(status(404)) is None  # the request, not the endpoint
    assert describe(ValueError("malformed answer")) is None


def test_a_refused_endpoint_stops_in_one_line_in_time_and_resume_against_a_working_one_completes_all(
    tmp_path: Path,
) -> None:
    seeds = make_seeds(tmp_path / "seeds", 50)
    port, out, down_after = free_port(), tmp_path / "runs", 2.0
    args = ["--config", str(config(tmp_path, port, down_after)), "--out", str(out), "--concurrency", "8"]
    code, stdout, stderr, seconds = run_cli("run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "down", *args)
    assert code == 5, stdout + stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr and "warning" not in stderr.lower(), stderr
    assert re.fullmatch(
        rf"error: endpoint fake-model \(http://127\.0\.0\.1:{port}/v1\) unreachable since "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(connection refused\); resume the run to carry on",
        errors[0],
    ), errors[0]
    assert down_after <= seconds < down_after + 60  # it waited the setting out, not the retries of every seed
    assert seed_lines(out / "down") == []  # no seed recorded as failed
    info = json.loads((out / "down" / "run.json").read_text())
    assert info["status"] == "endpoint_down" and info["config"]["endpoint_down_after"] == down_after

    with FakeOpenAIServer(competent_responder, port=port) as server:
        code, stdout, stderr, _ = run_cli("run", "--resume", "down", "--out", str(out))
        assert code == 0, stdout + stderr
    rows = seed_lines(out / "down")
    assert len(rows) == 50 and len({r["id"] for r in rows}) == 50 and all(r["status"] == "done" for r in rows)
    assert len(server.requests) > 0


def test_an_endpoint_that_dies_after_10_seeds_and_comes_back_within_the_pause_loses_nothing(tmp_path: Path) -> None:
    seeds = make_seeds(tmp_path / "seeds", 50)
    out = tmp_path / "runs"
    server = FakeOpenAIServer(competent_responder, latency=0.01).start()
    events: list[str] = []

    def outage() -> None:
        deadline = time.monotonic() + 120
        while len(seed_lines(out / "flaky")) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.close()
        events.append(f"down at {len(seed_lines(out / 'flaky'))}")
        time.sleep(2.0)
        events.append(f"up at {len(seed_lines(out / 'flaky'))}")
        server.start()

    killer = threading.Thread(target=outage, daemon=True)
    killer.start()
    try:
        args = ["--config", str(config(tmp_path, server.port, 60)), "--out", str(out), "--concurrency", "8"]
        code, stdout, stderr, _ = run_cli("run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "flaky", *args)
        killer.join(timeout=10)
    finally:
        server.close()
    assert code == 0, stdout + stderr
    down_at, up_at = (int(e.split()[-1]) for e in events)
    assert 10 <= down_at < 50 and up_at < 50, events  # the run did meet the outage mid-way
    rows = seed_lines(out / "flaky")
    assert len(rows) == 50 and len({r["id"] for r in rows}) == 50 and all(r["status"] == "done" for r in rows)
    log = (out / "flaky" / "run.log").read_text()
    assert "unreachable: connection refused" in log and "is back after" in log


def poison_responder(request: dict[str, Any]) -> str:
    """A content failure for the seeds marked POISON: an answer that never parses."""
    if "POISON" in json.dumps(request.get("messages")):
        return '{"this is": not valid json'
    return competent_responder(request)


def test_retry_failed_reruns_exactly_the_seeds_that_failed_on_content(tmp_path: Path) -> None:
    seeds = make_seeds(tmp_path / "seeds", 8, poisoned={2, 5})
    out = tmp_path / "runs"
    with FakeOpenAIServer(poison_responder) as server:
        args = ["--config", str(config(tmp_path, server.port, 60)), "--out", str(out), "--concurrency", "4"]
        code, stdout, stderr, _ = run_cli("run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "rf", *args)
        assert code == 3, stdout + stderr
        first = seed_lines(out / "rf")
        failed = {r["id"] for r in first if r["status"] == "failed"}
        assert {r["source"] for r in first if r["status"] == "failed"} == {str(seeds / "s02.txt"), str(seeds / "s05.txt")}
        done_transcripts = {r["id"]: (out / "rf" / "transcripts" / f"{r['id']}.json").read_text() for r in first if r["id"] not in failed}

        asked = len(server.requests)
        code, stdout, stderr, _ = run_cli("run", "--resume", "rf", "--out", str(out))
        assert code == 3 and seed_lines(out / "rf") == first  # a plain resume skips the failed seeds
        assert len(server.requests) == asked

        server.responder = competent_responder  # the content problem is gone
        asked = len(server.requests)
        code, stdout, stderr, _ = run_cli("run", "--resume", "rf", "--out", str(out), "--retry-failed")
        assert code == 0, stdout + stderr
        retried_requests = server.requests[asked:]
    rows = seed_lines(out / "rf")
    assert len(rows) == 8 and all(r["status"] == "done" for r in rows)
    assert rows[: 8 - len(failed)] == [r for r in first if r["id"] not in failed]  # the done seeds' lines as they were
    assert {r["id"] for r in rows[8 - len(failed) :]} == failed
    for seed_id, text in done_transcripts.items():  # no done seed was run again
        assert (out / "rf" / "transcripts" / f"{seed_id}.json").read_text() == text
    reports = [set(re.findall(r"Report (\d+)", json.dumps(r["messages"]))) for r in retried_requests]
    assert set().union(*reports) == {"2", "5"}  # the calls made were the failed seeds', and both of them
    info = json.loads((out / "rf" / "run.json").read_text())
    assert info["totals"]["seeds_done"] == 8 and info["totals"]["seeds_failed"] == 0


def test_retry_failed_without_resume_is_one_line(tmp_path: Path) -> None:
    seeds = make_seeds(tmp_path / "seeds", 1)
    code, _, stderr, _ = run_cli("run", "reading_comprehension", "--seeds", str(seeds), "--retry-failed")
    assert code == 2 and stderr.strip() == "error: --retry-failed goes with --resume RUN_ID"


def test_worker_processes_record_no_seed_as_failed_when_the_endpoint_is_down(tmp_path: Path) -> None:
    seeds = make_seeds(tmp_path / "seeds", 10)
    port, out = free_port(), tmp_path / "runs"
    args = ["--config", str(config(tmp_path, port, 1.5)), "--out", str(out), "--workers", "2"]
    code, stdout, stderr, _ = run_cli("run", "reading_comprehension", "--seeds", str(seeds), "--run-id", "w", *args)
    assert code == 5, stdout + stderr
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        line for line in stderr.splitlines() if "unreachable since" in line and "connection refused" in line
    ] and "Traceback" not in stderr
    assert seed_lines(out / "w") == []
    with FakeOpenAIServer(competent_responder, port=port):
        code, stdout, stderr, _ = run_cli("run", "--resume", "w", "--out", str(out), "--workers", "2")
        assert code == 0, stdout + stderr
    assert len(seed_lines(out / "w")) == 10
