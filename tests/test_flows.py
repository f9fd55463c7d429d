"""The three flows and the teacher on ReplayChatCompletionClient fakes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from agents.personas import PersonaLibrary
from retrieval.seeds import Seed, seed_id
from taxonomies import load_taxonomy
from teams.engine.seed import process_seed
from teams.flows import Attempts, FlowEnv, FlowSettings, SeedLog, answer, pick_specialists, refine, transform
from teams.flows.outputs import UNANSWERABLE_ANSWER
from teams.flows.types import Instruction
from teams.runfolder import RunFolder
from teams.skills import get_skill
from tests.fakes import answer_json, instructions_json, replay_pool, transform_json

PASSAGE = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while workers gather nectar."
SEED = Seed(id=seed_id(PASSAGE), source="bees.txt", text=PASSAGE)


def make_env(scripts: dict[str, list[str]], **settings: Any) -> FlowEnv:
    """No transformation reviewer unless a test asks for one (tests/test_transform_review.py does)."""
    pool, _ = replay_pool(scripts)
    settings.setdefault("transform_review", False)
    return FlowEnv(load_taxonomy("reading_comprehension"), PersonaLibrary.load(), pool, FlowSettings(**settings))


def mc_instruction() -> Instruction:
    return Instruction(
        key="main_idea-1",
        passage=PASSAGE,
        question="What is the passage mainly about?",
        options=["bees", "ants", "wasps", "flies"],
        subcategory="main_idea",
        answer_format="multiple_choice",
        writer="main_idea_writer",
    )


def test_specialists_follow_the_transformation() -> None:
    env = make_env({}, specialists_per_seed=4)
    for transformation in [t.name for t in env.taxonomy.transformations]:
        for trial in range(15):
            chosen = pick_specialists(env, random.Random(trial), transformation)
            assert len(chosen) == 4
            assert len({writer.name for writer, _ in chosen}) == 4
            for writer, sub in chosen:
                assert sub.name in writer.instruction_types
                assert sub.suits_transformation(transformation), (transformation, sub.name)


def test_argument_only_types_are_never_picked_for_a_poem() -> None:
    env = make_env({}, specialists_per_seed=20)
    restricted = {s.name for s in env.taxonomy.subcategories if not s.suits_transformation("poem")}
    assert restricted, "the taxonomy should have types that do not suit a poem"
    picked = {sub.name for trial in range(30) for _, sub in pick_specialists(env, random.Random(trial), "poem")}
    assert picked and not picked & restricted


async def test_transformer_output_becomes_the_passage_and_identity_makes_no_call() -> None:
    env = make_env({"transformer": [transform_json("A debate about bees: " + PASSAGE)]})
    log = SeedLog(SEED)
    debate = env.library.get("debate_transformer")
    assert await transform(env, log, SEED, debate) == "A debate about bees: " + PASSAGE
    team = log.transcript.teams[0]
    assert team.flow == "content_transformation" and team.status == "ok"
    assert team.participants[0]["system_message"] == debate.render(
        skill="reading_comprehension", transformation="debate"
    )
    assert [m.source for m in team.messages] == ["user", "debate_transformer"]

    identity = env.library.get("identity_transformer")
    assert await transform(env, log, SEED, identity) == PASSAGE  # the replay script is empty: no call was made


async def test_refinement_yields_the_configured_number_of_rounds() -> None:
    edits = [
        json.dumps(
            {"passage": PASSAGE + f" Edit {r}.", "question": f"Harder question {r}?", "options": ["a", "b", "c", "d"]}
        )
        for r in (1, 2, 3)
    ]
    suggestions = [json.dumps({"suggestions": [f"make it harder {r}"]}) for r in (1, 2, 3)]
    edits = [json.dumps({"edits": [json.loads(e)]}) for e in edits]
    env = make_env({"suggester": suggestions, "editor": edits}, refinement_rounds=3, suggestions_per_round=1)
    log = SeedLog(SEED)
    goal = env.taxonomy.goal("make_harder")
    chain = await refine(env, log, mc_instruction(), goal, env.library.get("suggester"), env.library.get("editor"))
    assert [i.refinement_round for i in chain] == [1, 2, 3]
    assert [i.question for i in chain] == ["Harder question 1?", "Harder question 2?", "Harder question 3?"]
    assert [i.parent for i in chain] == ["main_idea-1", chain[0].key, chain[1].key]
    assert all(i.refinement_goal == "make_harder" for i in chain)
    speakers = [m.source for m in log.transcript.teams[0].messages]
    assert speakers == ["user"] + ["suggester", "editor"] * 3


async def test_make_unanswerable_keeps_the_question_and_edits_only_the_passage() -> None:
    edit = json.dumps(
        {"passage": "Honeybees live in colonies, as everyone knows.", "question": "Other?", "options": list("abcd")}
    )
    edits = json.dumps({"edits": [json.loads(edit)]})
    env = make_env(
        {"suggester": [json.dumps({"suggestions": ["drop the number"]})], "editor": [edits]}, suggestions_per_round=1
    )
    goal = env.taxonomy.goal("make_unanswerable")
    (refined,) = await refine(
        env, SeedLog(SEED), mc_instruction(), goal, env.library.get("suggester"), env.library.get("editor")
    )
    assert refined.passage == "Honeybees live in colonies, as everyone knows."
    assert refined.question == mc_instruction().question and refined.options == mc_instruction().options


def test_attempts_mark_unusable_answers_and_give_up_with_the_last_reason() -> None:
    log = SeedLog(SEED)
    attempts = Attempts(make_env({}, max_attempts=3), log, "refinement", "main_idea-1:make_harder")
    for record in attempts:
        if record.attempt == 2:
            record.status, record.error = "error", "the editor failed: boom"  # what run_team notes
        attempts.reject(f"attempt {record.attempt}: no usable edit")
    attempts.give_up()
    assert [(t.attempt, t.status, t.error) for t in log.transcript.teams] == [
        (1, "invalid", "attempt 1: no usable edit"),
        (2, "error", "the editor failed: boom"),  # a team that failed keeps its own error
        (3, "invalid", "attempt 3: no usable edit"),
    ]
    assert [(f.flow, f.step, f.reason) for f in log.failures] == [
        ("refinement", "main_idea-1:make_harder", "attempt 3: no usable edit")
    ]


async def test_malformed_answer_is_retried_then_recorded_as_a_failure() -> None:
    env = make_env({"teacher": ["not json at all", '{"explanation": "missing the final answer"}', "{"]}, max_attempts=3)
    log = SeedLog(SEED)
    assert await answer(env, log, mc_instruction(), env.library.get("teacher")) is None
    attempts = [t for t in log.transcript.teams if t.flow == "answer"]
    assert [t.attempt for t in attempts] == [1, 2, 3]
    assert all(t.status == "error" and t.error for t in attempts)
    assert attempts[1].error == "final_answer: Field required"  # one readable line, not a traceback
    assert [f.flow for f in log.failures] == ["answer"]


async def test_a_retry_that_passes_the_checks_is_kept() -> None:
    env = make_env({"teacher": [answer_json(UNANSWERABLE_ANSWER), answer_json("B")]})
    log = SeedLog(SEED)
    result = await answer(env, log, mc_instruction(), env.library.get("teacher"))
    assert result is not None and result[0].final_answer == "B"
    statuses = [t.status for t in log.transcript.teams]
    assert statuses == ["invalid", "ok"]  # declining an answerable question: the checks sent it back
    assert "refuses" in (log.transcript.teams[0].error or "")
    assert not log.failures


async def test_one_seed_end_to_end_gives_records_of_the_promised_shape(tmp_path: Path) -> None:
    mc = ("Which animal does the passage describe?", ["bees", "ants", "wasps", "flies"])
    env_settings = {"specialists_per_seed": 1, "instructions_per_writer": 1, "refinement_rounds": 1}
    edit = {"passage": PASSAGE + " Edited.", "question": mc[0], "options": mc[1]}
    scripts = {
        "transformer": [transform_json("Speaker A: " + PASSAGE)] * 3,
        "instruction_writer": [instructions_json(mc)] * 3,
        "suggester": [json.dumps({"suggestions": ["change the number"]})] * 3,
        "editor": [json.dumps({"edits": [edit]})] * 3,
        "teacher": [answer_json("A"), answer_json("B")],  # the flip changed the answer: both are kept
    }
    env = make_env(scripts, **env_settings, suggestions_per_round=1)
    # pick a transformation and a multiple-choice writer deterministically: a library of one of each
    env.library = PersonaLibrary(
        {
            name: env.library.get(name)
            for name in ("conversation_transformer", "main_idea_writer", "suggester", "editor", "teacher")
        }
    )
    env.taxonomy = env.taxonomy.model_copy(update={"refinement_goals": [env.taxonomy.goal("flip_answer")]})
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    assert outcome.status.status == "done" and outcome.status.records == 2
    original, refined = outcome.records
    for record in outcome.records:
        assert [m.role for m in record.messages] == ["user", "assistant"]
        assert record.skill == "reading_comprehension" and record.subcategory == "main_idea"
        assert "Passage:" in record.messages[0].content and "A) bees" in record.messages[0].content
    for record, letter in zip(outcome.records, "AB", strict=True):
        assert record.messages[1].content.endswith(f"Final answer: {letter}")
        meta = record.meta
        assert meta["seed_id"] == SEED.id and meta["seed_source"] == "bees.txt"
        assert meta["transformation"] == "conversation"
        assert meta["personas"]["instruction_writer"] == "main_idea_writer"
        assert meta["tokens"]["seed_total"] > 0
    assert original.meta["refinement"] is None
    assert refined.meta["refinement"]["goal"] == "flip_answer"
    assert refined.meta["refinement"]["round"] == 1 and refined.meta["refinement"]["parent"] == "main_idea-1"
    assert refined.meta["refinement"]["suggestion"] == "change the number"
    RunFolder.create(tmp_path, "r").commit(outcome)  # the run folder points each record at its transcript
    assert all(r.meta["transcript"] == f"transcripts/{SEED.id}.json" for r in outcome.records)
    flows = [t.flow for t in outcome.transcript.teams]
    assert flows == sorted(
        flows, key=["content_transformation", "instruction_generation", "refinement", "answer"].index
    )


async def test_a_failed_transformation_falls_back_to_the_seed_as_it_is() -> None:
    mc = ("Which animal does the passage describe?", ["bees", "ants", "wasps", "flies"])
    scripts = {
        "transformer": [transform_json("Too short."), transform_json("Also short.")],
        "instruction_writer": [instructions_json(mc)],
        "teacher": [answer_json("A")],
    }
    env = make_env(scripts, specialists_per_seed=1, instructions_per_writer=1, refinement_rounds=0, max_attempts=2)
    env.library = PersonaLibrary(
        {
            name: env.library.get(name)
            for name in ("debate_transformer", "main_idea_writer", "suggester", "editor", "teacher")
        }
    )
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    assert outcome.status.status == "done"
    (record,) = outcome.records
    assert (
        record.meta["transformation"] == "identity" and record.meta["personas"]["transformer"] == "debate_transformer"
    )
    assert PASSAGE in record.messages[0].content
    assert [f["flow"] for f in outcome.status.failures] == ["content_transformation"]
