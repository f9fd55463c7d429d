"""End to end on the real embedded model (SmolLM2-135M through llama.cpp): slow but real."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.models import ModelSpec, Sampling
from agents.models.local import LocalChatCompletionClient, shared_engine
from agents.models.wrapping import schema_of
from teams.flows.outputs import (
    AnswerOutput,
    InstructionsOutput,
    SuggestionsOutput,
    TransformOutput,
    answer_output,
    edit_output,
    edits_output,
    instructions_output,
    suggestions_output,
)
from teams.flows.types import Record, SeedTranscript
from tests.conftest import REPO, TINY_SEED

pytestmark = pytest.mark.e2e


async def test_local_client_returns_schema_valid_json_under_concurrent_calls() -> None:
    from autogen_core.models import UserMessage

    client = LocalChatCompletionClient(shared_engine(), Sampling(max_tokens=200), ModelSpec().model_info())
    prompt = [UserMessage(content="Passage: Bees make honey from nectar.\nWrite one question about it.", source="user")]
    results = await asyncio.gather(*(client.create(prompt, json_output=InstructionsOutput) for _ in range(3)))
    for result in results:
        if result.finish_reason == "stop":  # a reply cut at max_tokens may end mid-JSON; a finished one may not
            InstructionsOutput.model_validate_json(result.content)
        assert result.usage.completion_tokens > 0
    answer = await client.create(prompt, json_output=AnswerOutput)
    assert answer.finish_reason != "stop" or AnswerOutput.model_validate_json(answer.content)


async def test_every_schema_we_send_builds_a_grammar_that_constrains_the_output() -> None:
    """llama.cpp answers with free text when it rejects a grammar (and may crash): every output
    schema of every answer format must come back as JSON of its own shape."""
    from autogen_core.models import UserMessage

    client = LocalChatCompletionClient(shared_engine(), Sampling(max_tokens=48), ModelSpec().model_info())
    formats = ["multiple_choice", "true_false", "short_answer", "ordering", "essay"]
    schemas = [TransformOutput, SuggestionsOutput, AnswerOutput]
    schemas += [instructions_output(f) for f in formats] + [edit_output(f) for f in formats]
    schemas += [suggestions_output(1), suggestions_output(3), edits_output(edit_output("multiple_choice"), 1)]
    schemas += [answer_output("multiple_choice", 4), answer_output("true_false", 0)]
    prompt = [UserMessage(content="Passage: Owls hunt at night.\nReply about it.", source="user")]
    for schema in schemas:
        result = await client.create(prompt, json_output=schema)
        first_field = next(iter(schema.model_fields))
        assert result.content.replace(" ", "").startswith(f'{{"{first_field}"'), (schema.__name__, result.content[:80])


def test_demo_on_the_embedded_model_with_one_tiny_seed(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "teams.cli", "run", "reading_comprehension", "--seeds", str(TINY_SEED),
         "--out", str(tmp_path), "--run-id", "e2e", "--specialists", "1", "--seed", "1", "--judge-threshold", "1",
         "--config", str(REPO / "examples" / "demo.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=1200,
    )  # fmt: skip
    assert done.returncode in (0, 3, 1), done.stderr
    assert "Traceback" not in done.stderr
    folder = tmp_path / "e2e"
    info = json.loads((folder / "run.json").read_text())
    assert info["models"]["teacher"].startswith("local:SmolLM2")
    assert info["status"] in ("completed", "completed_with_failures")
    (seed,) = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    transcript = SeedTranscript.model_validate_json((folder / "transcripts" / f"{seed['id']}.json").read_text())
    spoken = [m for team in transcript.teams for m in team.messages if m.source != "user"]
    assert spoken and sum(m.completion_tokens for m in spoken) > 0  # the real model spoke
    assert seed["tokens"] == info["totals"]["tokens"] > 0
    records = [Record.model_validate_json(line) for line in (folder / "records.jsonl").read_text().splitlines() if line]
    assert len(records) == seed["records"] == info["totals"]["records"]
    for record in records:
        assert [m.role for m in record.messages] == ["user", "assistant"]
        assert (
            1 <= record.meta["judge"]["score"] <= 5
        )  # judged (a 135M judge's scores are noise: threshold 1 keeps all)
    if records:
        assert "judge" in {team.flow for team in transcript.teams}
    if seed["status"] == "failed":
        assert seed["reason"]


def _engine_and_stock_llama() -> tuple[Any, Any]:
    """The engine's model, and llama-cpp-python's own Llama (grammar applied first) on the same GGUF."""
    from llama_cpp import Llama

    from agents.models.local import _model_params

    engine = shared_engine()
    ours = engine._model()
    with _model_params(use_extra_bufts=False):
        stock = Llama(model_path=str(engine.model_path), n_ctx=2048, n_threads=ours.n_threads, seed=0, verbose=False)
    return ours, stock


def test_greedy_structured_answers_are_token_for_token_those_of_llama_cpp_python_s_sampling() -> None:
    """Checking the grammar last (only the token the chain chose, then the whole vocabulary if it
    does not fit) picks, greedily, exactly what applying the grammar to every token first picks."""
    ours, stock = _engine_and_stock_llama()
    assert type(ours) is not type(stock)  # the engine samples structured answers its own way
    request = {
        "messages": [{"role": "user", "content": "Passage: Owls hunt at night using sharp hearing.\nWrite a question."}],
        "temperature": 0.0, "max_tokens": 60, "repeat_penalty": 1.1,
        "response_format": {"type": "json_object", "schema": schema_of(InstructionsOutput)},
    }  # fmt: skip
    mine, theirs = ours.create_chat_completion(**request), stock.create_chat_completion(**request)
    assert mine["usage"]["completion_tokens"] > 5
    assert mine["choices"][0]["message"]["content"] == theirs["choices"][0]["message"]["content"]


def test_sampled_structured_answers_fit_a_grammar_the_model_would_not_follow_by_itself() -> None:
    """The chain's own choice is usually refused here (made-up words, a fixed key): every answer
    must still be the grammar's JSON."""
    ours, _ = _engine_and_stock_llama()
    schema = {"type": "object", "properties": {"zqx": {"enum": ["vlorp", "quiznak"]}}, "required": ["zqx"]}
    for seed in range(3):
        answer = ours.create_chat_completion(
            messages=[{"role": "user", "content": "Tell me a long story about the sea."}], temperature=1.0,
            max_tokens=40, seed=seed, response_format={"type": "json_object", "schema": schema},
        )  # fmt: skip
        assert json.loads(answer["choices"][0]["message"]["content"])["zqx"] in ("vlorp", "quiznak")
