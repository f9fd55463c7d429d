"""Tool use's refinement reads the task and the first conversation it gave, and the refined tasks
are conversed afresh (on the fake server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import _task_text
from tests.tool_fakes import output_fields, run_tool_use_seed, tool_use_responder


def test_refinement_sees_the_first_conversation_and_its_tasks_are_conversed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    records, transcript, requests = run_tool_use_seed(
        tmp_path, tool_use_responder, "{specialists_per_seed: 2, instructions_per_writer: 1, suggestions_per_round: 2}"
    )
    suggester_tasks = [_task_text(r) for r in requests if output_fields(r) == {"suggestions"}]
    assert suggester_tasks
    for task in suggester_tasks:
        seen = task.split("The conversation this task gave", 1)[1].split("Refinement goal:", 1)[0]
        assert "user: " in seen and "assistant calls " in seen and " returned: " in seen  # the whole exchange
    refined = [r for r in records if r.meta["refinement"]]
    assert refined and all(r.meta["refinement"]["suggestion"] for r in refined)
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
