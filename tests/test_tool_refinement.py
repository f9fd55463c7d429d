"""Tool use's refinement reads the task and the first conversation it gave, and the refined tasks
are conversed afresh (on the fake server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from teams.flows.types import Record, SeedTranscript
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import _task_text
from tests.test_tool_use import CODE
from tests.tool_fakes import tool_use_responder


def _fields(request: dict) -> set[str]:
    schema = (request.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    return set(schema.get("properties", {}))


def test_refinement_sees_the_first_conversation_and_its_tasks_are_conversed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = tmp_path / "c.yaml"
    config.write_text("flow: {specialists_per_seed: 2, instructions_per_writer: 1, suggestions_per_round: 2}\n")
    with FakeOpenAIServer(tool_use_responder) as server:
        result = CliRunner().invoke(app, [
            "run", "tool_use", "--seeds", str(CODE), "--model", "fake-model", "--base-url", server.base_url,
            "--out", str(tmp_path / "runs"), "--run-id", "t", "--index", str(tmp_path / "index"), "--max-seeds", "1",
            "--config", str(config),
        ])  # fmt: skip
        requests = list(server.requests)
    assert result.exit_code == 0, result.stderr
    suggester_tasks = [_task_text(r) for r in requests if _fields(r) == {"suggestions"}]
    assert suggester_tasks
    for task in suggester_tasks:
        seen = task.split("The conversation this task gave", 1)[1].split("Refinement goal:", 1)[0]
        assert "user: " in seen and "assistant calls " in seen and " returned: " in seen  # the whole exchange
    folder = tmp_path / "runs" / "t"
    records = [Record.model_validate_json(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    refined = [r for r in records if r.meta["refinement"]]
    assert refined and all(r.meta["refinement"]["suggestion"] for r in refined)
    (seed_line,) = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    transcript = SeedTranscript.model_validate_json((folder / "transcripts" / f"{seed_line['id']}.json").read_text())
    steps = [t.step for t in transcript.teams]
    by_key = {r.meta["instruction_key"]: r for r in records}
    assert any(r.meta["refinement"]["parent"] in by_key for r in refined)
    for record in refined:
        parent, key = record.meta["refinement"]["parent"], record.meta["instruction_key"]
        assert f"conversation:{key}" in steps  # the refined task was conversed afresh
        if parent in by_key:  # the parent's own conversation is what the Suggester read
            first = by_key[parent].messages
            calls = [c["function"]["name"] for m in first for c in m.tool_calls or []]
            read = [t for t in suggester_tasks if f"user: {first[0].content}" in t]
            assert read and all(f"assistant calls {name}(" in read[0] for name in calls)
    assert len({r.meta["instruction_key"] for r in refined}) == len(refined)
