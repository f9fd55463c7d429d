"""The judge on ReplayChatCompletionClient fakes: a record scored below the threshold is dropped
and counted, one above is kept with its scores and reasons; the rubric is data."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from agents.personas import PersonaLibrary
from retrieval.seeds import Seed, seed_id
from taxonomies import load_taxonomy
from teams.cli.app import app
from teams.engine.seed import process_seed
from teams.flows import FlowEnv, FlowSettings
from teams.flows.judge import JudgeOutput, judge_output
from teams.flows.types import SeedTranscript
from teams.skills import get_skill
from tests.conftest import TINY_SEED
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import answer_json, competent_responder, instructions_json, judge_json, replay_pool

PASSAGE = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while workers gather nectar."
SEED = Seed(id=seed_id(PASSAGE), source="bees.txt", text=PASSAGE)
QUESTIONS = (
    ("Which animal does the passage describe?", ["bees", "ants", "wasps", "flies"]),
    ("Who lays the eggs in the colony?", ["the queen", "the workers", "the drones", "nobody"]),
)


def env_with(scripts: dict[str, list[str]], **settings: float) -> tuple[FlowEnv, dict]:
    pool, clients = replay_pool(scripts)
    library = PersonaLibrary.load()
    keep = ("identity_transformer", "main_idea_writer", "suggester", "editor", "teacher", "reading_comprehension_judge")
    env = FlowEnv(
        load_taxonomy("reading_comprehension"),
        PersonaLibrary({name: library.get(name) for name in keep}),
        pool,
        FlowSettings(specialists_per_seed=1, instructions_per_writer=2, refinement_rounds=0, **settings),  # type: ignore[arg-type]
    )
    return env, clients


async def test_a_low_score_is_dropped_and_a_high_one_kept() -> None:
    scripts = {
        "instruction_writer": [instructions_json(*QUESTIONS)],
        "teacher": [answer_json("A"), answer_json("A")],
        "judge": [judge_json(1), judge_json(5)],
    }
    env, _ = env_with(scripts, judge_threshold=3.0)
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    (kept,) = outcome.records
    (dropped,) = outcome.dropped
    assert kept.meta["judge"]["score"] == 5.0 and kept.meta["judge"]["judge"] == "reading_comprehension_judge"
    assert set(kept.meta["judge"]["scores"]) == {"correctness", "faithfulness", "difficulty", "instruction_following"}
    assert kept.meta["judge"]["reasons"]["correctness"] == "correctness looks like a 5."
    assert kept.meta["tokens"]["judge"] > 0
    assert dropped.meta["judge"]["score"] == 1.0
    assert dropped.meta["dropped"] == {"by": "judge", "reason": "score 1.0 below 3.0"}
    assert outcome.status.status == "done" and outcome.status.records == 1
    assert outcome.status.dropped == {"judge": 1}
    judged = [t for t in outcome.transcript.teams if t.flow == "judge"]
    assert len(judged) == 2 and all(t.participants[0]["persona"] == "reading_comprehension_judge" for t in judged)
    assert "faithfulness" in judged[0].participants[0]["system_message"]  # the rubric, rendered from the YAML
    assert outcome.transcript.teams[-1].flow == "judge"


async def test_threshold_zero_turns_the_judge_off() -> None:
    scripts = {"instruction_writer": [instructions_json(*QUESTIONS)], "teacher": [answer_json("A"), answer_json("A")]}
    env, _ = env_with(scripts, judge_threshold=0)
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    assert len(outcome.records) == 2 and not outcome.dropped
    assert all("judge" not in r.meta for r in outcome.records)
    assert not [t for t in outcome.transcript.teams if t.flow == "judge"]


async def test_an_unusable_verdict_is_retried_then_the_record_is_not_kept() -> None:
    scripts = {
        "instruction_writer": [instructions_json(QUESTIONS[0])],
        "teacher": [answer_json("A")],
        "judge": ["not json", json.dumps({"correctness": {"reason": "ok", "score": 9}})],
    }
    env, _ = env_with(scripts, judge_threshold=3.0, max_attempts=2)
    env.settings.instructions_per_writer = 1
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    assert not outcome.records
    (dropped,) = outcome.dropped
    assert dropped.meta["dropped"]["reason"] == "the judge gave no usable verdict"
    assert [f["flow"] for f in outcome.status.failures] == ["judge"]
    assert [t.status for t in outcome.transcript.teams if t.flow == "judge"] == ["error", "error"]


def test_a_new_skill_gets_the_generic_rubric_with_no_code() -> None:
    library = PersonaLibrary.load()
    (judge,) = library.pool("judge", "a_skill_nobody_wrote_a_judge_for")
    assert judge.name == "judge" and [c.name for c in judge.rubric] == [
        "correctness", "faithfulness", "difficulty", "instruction_following",
    ]  # fmt: skip
    assert [p.name for p in library.pool("judge", "reading_comprehension")] == ["reading_comprehension_judge"]
    schema = judge_output(("correctness", "style"))
    assert issubclass(schema, JudgeOutput) and list(schema.model_fields) == ["correctness", "style"]


def test_cli_threshold_and_no_judge(tmp_path: Path) -> None:
    with FakeOpenAIServer(competent_responder) as server:
        base = ["run", "reading_comprehension", "--seeds", str(TINY_SEED), "--model", "fake", "--base-url", server.base_url,
                "--out", str(tmp_path), "--refinement-rounds", "0", "--specialists", "1"]  # fmt: skip
        strict = CliRunner().invoke(app, [*base, "--run-id", "strict", "--judge-threshold", "4.5"])
        off = CliRunner().invoke(app, [*base, "--run-id", "off", "--no-judge"])
    assert strict.exit_code == 0, strict.stderr  # every seed was done; the judge kept nothing
    info = json.loads((tmp_path / "strict" / "run.json").read_text())
    assert info["totals"]["records"] == 0 and info["totals"]["dropped"]["judge"] == 2
    assert "dropped: 2 judge" in strict.stdout
    dropped = [json.loads(line) for line in (tmp_path / "strict" / "dropped.jsonl").read_text().splitlines()]
    assert {d["meta"]["dropped"]["by"] for d in dropped} == {"judge"} and len(dropped) == 2
    assert off.exit_code == 0, off.stderr
    (seed,) = [json.loads(line) for line in (tmp_path / "off" / "seeds.jsonl").read_text().splitlines()]
    transcript = SeedTranscript.model_validate_json(
        (tmp_path / "off" / "transcripts" / f"{seed['id']}.json").read_text()
    )
    assert "judge" not in {t.flow for t in transcript.teams} and seed["records"] == 2
