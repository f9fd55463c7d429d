"""Resume: a run killed with SIGKILL at several points, then resumed, ends like an uninterrupted
run (the same seeds done, no duplicate, no torn line) and repeats no model call that had
finished; a torn folder is repaired; resuming a finished run calls nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.models.cache import RequestCache
from teams.cli.app import app
from teams.flows.types import Record
from tests.conftest import REPO
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder

runner = CliRunner()


class MarkingResponder:
    """A competent model whose every answer carries a unique call number, so a cached answer
    tells which request it answered."""

    def __init__(self) -> None:
        self.numbers = count(1)
        self.lock = threading.Lock()
        self.request_of: dict[int, str] = {}  # call number -> the request's fingerprint

    def __call__(self, request: dict[str, Any]) -> str:
        reply = competent_responder(request)
        with self.lock:
            number = next(self.numbers)
            self.request_of[number] = fingerprint(request)
        try:
            value = json.loads(reply)
        except json.JSONDecodeError:
            return f"{reply} [call {number}]"
        value["_call"] = number
        return json.dumps(value)


def fingerprint(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def call_number(content: Any) -> int:
    text = content if isinstance(content, str) else json.dumps(content)
    try:
        return int(json.loads(text)["_call"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return int(text.rsplit("[call ", 1)[1].rstrip("]"))


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    animals = ["owls", "bees", "otters", "crows", "moles", "newts", "voles", "wrens"]
    for i, animal in enumerate(animals):
        (folder / f"{animal}.txt").write_text(
            f"Field note {i}: {animal} were counted at dawn near the river; {i + 3} of them were young, "
            f"and the survey team logged the weather as mild.",
            encoding="utf-8",
        )
    return folder


@pytest.fixture
def server() -> Iterator[tuple[FakeOpenAIServer, MarkingResponder]]:
    responder = MarkingResponder()
    with FakeOpenAIServer(responder, latency=0.01) as srv:
        yield srv, responder


def run_args(server: FakeOpenAIServer, seeds: Path, out: Path, run_id: str, *extra: str) -> list[str]:
    return [
        "run", "reading_comprehension", "--seeds", str(seeds), "--model", "fake-model", "--base-url",
        server.base_url, "--out", str(out), "--run-id", run_id, "--concurrency", "3",
        "--no-judge", "--no-dedup", *extra,  # so an interrupted run can be compared record for record
    ]  # fmt: skip


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    assert not text or text.endswith("\n"), f"{path.name}: a torn last line"
    return [json.loads(line) for line in text.splitlines()]


def check_folder(folder: Path, seed_ids: set[str]) -> list[dict[str, Any]]:
    """Every seed recorded exactly once, every record whole, once, and of a recorded seed."""
    seeds = lines(folder / "seeds.jsonl")
    assert sorted(s["id"] for s in seeds) == sorted(seed_ids)
    records = lines(folder / "records.jsonl")
    for record in records:
        Record.model_validate(record)
    assert len({r["id"] for r in records}) == len(records)
    by_seed = {s["id"]: s["records"] for s in seeds}
    for seed_id, expected in by_seed.items():
        assert sum(1 for r in records if r["meta"]["seed_id"] == seed_id) == expected
    return records


@pytest.mark.parametrize("kill_after", [2, 25, 70])
def test_a_run_killed_at_any_point_resumes_to_the_uninterrupted_result(
    server: tuple[FakeOpenAIServer, MarkingResponder], seeds: Path, tmp_path: Path, kill_after: int
) -> None:
    srv, responder = server
    out = tmp_path / "runs"
    code, output = cli(*run_args(srv, seeds, out, "whole"))
    assert code == 0, output
    whole_seeds = {s["id"] for s in lines(out / "whole" / "seeds.jsonl")}
    whole_calls = len(srv.requests)
    assert len(whole_seeds) == 8 and whole_calls > kill_after

    before = len(srv.requests)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    process = subprocess.Popen(
        [sys.executable, "-m", "teams.cli", *run_args(srv, seeds, out, "killed")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(srv.requests) - before < kill_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    killed_calls = len(srv.requests) - before

    # the calls that had finished: their answers are in the killed run's cache
    cache = RequestCache(out / "killed" / "cache")
    finished = {responder.request_of[call_number(r.content)] for r in cache.values()} if cache.directory.exists() else set()
    cache.close()

    after_kill = len(srv.requests)
    code, output = cli("run", "--resume", "killed", "--out", str(out))
    assert code == 0, output
    resumed_requests = srv.requests[after_kill:]
    assert not finished & {fingerprint(r) for r in resumed_requests}, "a finished call was made again"
    assert killed_calls + len(resumed_requests) < 2 * whole_calls

    records = check_folder(out / "killed", whole_seeds)
    assert len(records) == len(lines(out / "whole" / "records.jsonl"))
    info = json.loads((out / "killed" / "run.json").read_text())
    assert info["status"] == "completed" and info["totals"]["seeds_done"] == 8 and info["resumed_at"]
    if finished:
        assert info["totals"]["cached_calls"] >= 1


def test_a_torn_folder_is_repaired_on_resume(
    server: tuple[FakeOpenAIServer, MarkingResponder], seeds: Path, tmp_path: Path
) -> None:
    srv, _ = server
    out = tmp_path / "runs"
    assert cli(*run_args(srv, seeds, out, "torn"))[0] == 0
    folder = out / "torn"
    seed_lines = (folder / "seeds.jsonl").read_text().splitlines(keepends=True)
    record_lines = (folder / "records.jsonl").read_text().splitlines(keepends=True)
    dropped = json.loads(seed_lines[-1])["id"]
    # as if killed mid-write: the last seed's line torn, its records written, a record torn
    (folder / "seeds.jsonl").write_text("".join(seed_lines[:-1]) + seed_lines[-1][:20])
    (folder / "records.jsonl").write_text("".join(record_lines) + record_lines[0][:30])
    before = len(srv.requests)
    code, output = cli("run", "--resume", "torn", "--out", str(out))
    assert code == 0, output
    records = check_folder(folder, {json.loads(line)["id"] for line in seed_lines})
    assert len(records) == len(record_lines)
    assert sum(1 for r in records if r["meta"]["seed_id"] == dropped) > 0
    assert len(srv.requests) == before  # the dropped seed was done again, from the cache


def test_resuming_a_finished_run_calls_no_model(
    server: tuple[FakeOpenAIServer, MarkingResponder], seeds: Path, tmp_path: Path
) -> None:
    srv, _ = server
    out = tmp_path / "runs"
    assert cli(*run_args(srv, seeds, out, "done"))[0] == 0
    records = (out / "done" / "records.jsonl").read_text()
    before = len(srv.requests)
    code, output = cli("run", "--resume", "done", "--out", str(out))
    assert code == 0 and "completed: 8 seeds done" in output, output
    assert len(srv.requests) == before and (out / "done" / "records.jsonl").read_text() == records


def test_a_run_started_in_one_folder_resumes_from_another_on_its_own_seeds(
    server: tuple[FakeOpenAIServer, MarkingResponder], seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json kept the flags' paths as typed, relative to the folder the run was started in, so
    `--resume` from another folder missed the seeds, or (as here) read that folder's `seeds/`
    instead. Its records still name a seed's file from the seeds folder down, not where it is."""
    srv, _ = server
    monkeypatch.chdir(tmp_path)
    code, output = cli(*run_args(srv, Path("seeds"), Path("runs"), "moved", "--dry-run", "--sample", "2"))
    assert code == 0, output
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "seeds").mkdir(parents=True)
    (elsewhere / "seeds" / "decoy.txt").write_text("A decoy the resumed run must not read.", encoding="utf-8")
    monkeypatch.chdir(elsewhere)

    code, output = cli("run", "--resume", "moved", "--out", "../runs")
    assert code == 0 and "completed: 8 seeds done" in output, output
    folder = tmp_path / "runs" / "moved"
    assert sorted(s["source"] for s in lines(folder / "seeds.jsonl")) == sorted(str(p) for p in seeds.iterdir())
    records = lines(folder / "records.jsonl")
    assert {r["meta"]["seed_source"] for r in records} == {f"seeds/{p.name}" for p in seeds.iterdir()}
    assert str(tmp_path) not in (folder / "records.jsonl").read_text(encoding="utf-8")


def test_resume_of_an_unknown_run_is_one_line(tmp_path: Path) -> None:
    code, output = cli("run", "--resume", "nope", "--out", str(tmp_path))
    assert code == 2 and "no run 'nope'" in output
    code, output = cli("run")
    assert code == 2 and "--resume" in output


def test_resumed_totals_count_what_every_committed_seed_dropped() -> None:
    from teams.runfolder import RunTotals, SeedStatus

    seeds = [
        SeedStatus(id="a", source="x.md", status="done", records=2, dropped={"judge": 1, "duplicate": 2}),
        SeedStatus(id="b", source="x.md", status="done", records=1, dropped={"duplicate": 1}),
    ]
    stale = RunTotals(dropped={"judge": 1})  # run.json written before seed b was committed
    totals = stale.recount(seeds)
    assert totals.dropped == {"judge": 1, "duplicate": 3} and totals.records == 3 and totals.seeds_done == 2


def test_the_request_cache_keeps_every_entry_past_diskcache_size_limit(tmp_path: Path) -> None:
    """diskcache evicts past its size limit by default (1 GB); a long run's resume would then pay
    for those calls again."""
    from autogen_core.models import CreateResult, RequestUsage

    cache = RequestCache(tmp_path / "cache")
    store = cache._open()
    store.reset("size_limit", 1_000)  # as if a long run had filled the default 1 GB
    result = CreateResult(content="x" * 200, usage=RequestUsage(prompt_tokens=1, completion_tokens=1), finish_reason="stop", cached=False)
    for i in range(50):
        cache.put(f"key{i}", result)
    assert all(cache.get(f"key{i}") is not None for i in range(50))
    cache.close()
