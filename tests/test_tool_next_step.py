"""Tool use's multi-turn conversations: after the assistant's answer, a user simulator reads the
conversation and asks for a next step that builds on it; the assistant calls its tools again and
answers (on the fake server)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from teams.flows.types import Record, SeedTranscript
from tests.fakes import _task_text
from tests.tool_fakes import output_fields, run_tool_use_seed, tool_use_responder

NEXT_STEP = "Good. Now use what the tools returned for the station next door as well."


def _user(picks_up: str | None) -> Any:
    """The fake with a user simulator: after the first answer it asks for a next step that picks up
    `picks_up` (None: words of the assistant's last answer), then its need is met."""

    def respond(request: dict[str, Any]) -> Any:
        if output_fields(request) != {"message", "refers_to", "done"}:
            return tool_use_responder(request)
        conversation = _task_text(request)
        answers = re.findall(r"^assistant: (.+)$", conversation, re.M)
        if NEXT_STEP in conversation or not answers:
            return json.dumps({"message": "Thanks, that is all.", "refers_to": "", "done": True})
        refers = picks_up if picks_up is not None else " ".join(answers[-1].split()[3:6])
        return json.dumps({"message": NEXT_STEP, "refers_to": refers, "done": False})

    return respond


def _run(tmp_path: Path, responder: Any) -> tuple[list[Record], SeedTranscript, list[dict[str, Any]]]:
    flow = "{specialists_per_seed: 2, instructions_per_writer: 1, refinement_rounds: 0, turns: 3}"
    return run_tool_use_seed(tmp_path, responder, flow)


def test_the_user_asks_a_next_step_after_reading_the_answer_and_the_assistant_calls_tools_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    records, transcript, requests = _run(tmp_path, _user(None))
    carried_on = [r for r in records if any(m.role == "user" and m.content == NEXT_STEP for m in r.messages)]
    assert carried_on
    for record in carried_on:
        messages = record.messages
        at = next(i for i, m in enumerate(messages) if m.content == NEXT_STEP)
        before, after = messages[:at], messages[at + 1 :]
        assert any(m.role == "assistant" and m.content and not m.tool_calls for m in before)  # answered first
        assert any(m.tool_calls for m in after) and any(m.role == "tool" for m in after)  # tools again
        assert after[-1].role == "assistant" and after[-1].content and not after[-1].tool_calls
        steps = [t.step for t in transcript.teams]
        key = record.meta["instruction_key"]
        # the user's turn was written after the conversation it read, then the assistant carried on
        assert (
            steps.index(f"conversation:{key}") < steps.index(f"user_turn:{key}:1") < steps.index(f"next_step:{key}:1")
        )
    # what the user simulator read held the assistant's answer and the tools' results
    asked = [_task_text(r) for r in requests if output_fields(r) == {"message", "refers_to", "done"}]
    assert asked and all("assistant: " in a and " returned: " in a for a in asked)
    # its need met, it stopped before `turns`: no record has a third user turn from it
    assert all(sum(m.content == NEXT_STEP for m in r.messages) <= 1 for r in records)


def test_a_next_step_picking_up_words_no_answer_said_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    records, transcript, _ = _run(tmp_path, _user("the moon is made of cheese"))
    assert records and not any(m.content == NEXT_STEP for r in records for m in r.messages)
    rejected = [t for t in transcript.teams if t.step.startswith("user_turn:")]
    assert rejected and all(t.status == "invalid" and "no answer says" in (t.error or "") for t in rejected)
    assert not any(t.step.startswith("next_step:") for t in transcript.teams)
