"""Tool use end to end on the real embedded model (SmolLM2-135M through llama.cpp): slow but real.

One small code seed, the lightest flow: the model documents the code, calls the search tool
through its grammar, writes a task, and holds a conversation whose tool calls a simulator
answers. A 135M model's conversations often fail the checks; what must hold is that the
machinery runs for real and that every record written passes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from teams.flows.types import Record, SeedTranscript
from teams.skills.tool_use.checks import check_conversation
from teams.skills.tool_use.schemas import ToolSpec, ToolTaskDraft
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def test_tool_use_on_the_embedded_model_with_one_small_code_seed(tmp_path: Path) -> None:
    # two attempts a step: with one, whether the 135M model's first API documentation parses
    # decided the whole test (on this seed it did for one prompt, not for a one-word change of it)
    config = tmp_path / "light.yaml"
    config.write_text(
        "flow: {specialists_per_seed: 1, instructions_per_writer: 1, refinement_rounds: 0, max_attempts: 2, judge_threshold: 1}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "teams.cli", "run", "tool_use", "--seeds", str(REPO / "examples" / "code" / "units.py"),
         "--config", str(config), "--out", str(tmp_path), "--run-id", "e2e", "--index", str(tmp_path / "index"),
         "--seed", "3"],
        capture_output=True, text=True, cwd=REPO, timeout=1800,
    )  # fmt: skip
    assert done.returncode in (0, 1, 3), done.stderr
    assert "Traceback" not in done.stderr
    folder = tmp_path / "e2e"
    info = json.loads((folder / "run.json").read_text())
    assert info["models"]["api_retriever"].startswith("local:SmolLM2")
    (seed,) = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    transcript = SeedTranscript.model_validate_json((folder / "transcripts" / f"{seed['id']}.json").read_text())
    spoken = [m for team in transcript.teams for m in team.messages if m.source != "user"]
    assert sum(m.completion_tokens for m in spoken) > 0  # the real model spoke
    # the retriever called its search tool through the grammar, and the search ran
    retrieval = [t for t in transcript.teams if t.step == "retrieve_apis"]
    assert retrieval and any(m.type == "ToolCallExecutionEvent" for t in retrieval for m in t.messages)
    written = folder / "records.jsonl"
    lines = written.read_text().splitlines() if written.exists() else []  # no record: no file
    records = [Record.model_validate_json(line) for line in lines if line]
    assert len(records) == seed["records"] == info["totals"]["records"]
    for record in records:
        tools = [ToolSpec(name=t["function"]["name"], description="", parameters=t["function"]["parameters"],
                          returns={}, origin="extracted") for t in record.tools or []]  # fmt: skip
        follow_up = next((m.content for m in record.messages[1:] if m.role == "user"), "")
        draft = ToolTaskDraft.model_validate(
            {**record.meta["task"], "request": record.messages[0].content, "follow_up": follow_up}
        )
        assert check_conversation(record.messages, tools, draft, record.subcategory) == []
        assert record.meta["judge"]["score"] >= 1  # judged like every other skill
    if seed["status"] == "failed":
        assert seed["reason"]
