"""Refinement as the method has it (N suggestions -> N new pairs a round, every goal per pair,
several Suggester/Editor personas) and the verification of the teacher (the writer's key, a
flipped answer), on ReplayChatCompletionClient fakes."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from agents.personas import PersonaLibrary
from retrieval.seeds import Seed, seed_id
from teams.engine.seed import process_seed, seed_rng
from teams.flows import FlowEnv, SeedLog, refine
from teams.flows.checks.keys import key_problem
from teams.flows.outputs import AnswerOutput
from teams.flows.refine import goal_plan
from teams.flows.seed import VERIFICATION, draw_personas
from teams.flows.types import Instruction
from teams.skills import get_skill
from tests.fakes import answer_json, instructions_json, transform_json
from tests.test_flows import PASSAGE, SEED, make_env, mc_instruction

MC = ("Which animal does the passage describe?", ["bees", "ants", "wasps", "flies"])


def _edits(*tags: str) -> str:
    return json.dumps(
        {
            "edits": [
                {"passage": f"{PASSAGE} Edit {t}.", "question": f"Question {t}?", "options": list("abcd")} for t in tags
            ]
        }
    )


async def test_n_suggestions_give_n_new_pairs_a_round_each_with_its_suggestion() -> None:
    suggestions = [json.dumps({"suggestions": [f"idea {r}.{k}" for k in (1, 2, 3)]}) for r in (1, 2)]
    env = make_env(
        {"suggester": suggestions, "editor": [_edits("1a", "1b", "1c"), _edits("2a", "2b", "2c")]},
        refinement_rounds=2,
        suggestions_per_round=3,
    )
    log = SeedLog(SEED)
    goal = env.taxonomy.goal("make_harder")
    made = await refine(env, log, mc_instruction(), goal, env.library.get("suggester"), env.library.get("editor"))
    assert [(p.refinement_round, p.question) for p in made] == [
        (1, "Question 1a?"), (1, "Question 1b?"), (1, "Question 1c?"),
        (2, "Question 2a?"), (2, "Question 2b?"), (2, "Question 2c?"),
    ]  # fmt: skip
    assert [p.suggestion for p in made] == ["idea 1.1", "idea 1.2", "idea 1.3", "idea 2.1", "idea 2.2", "idea 2.3"]
    assert {p.parent for p in made[:3]} == {"main_idea-1"}
    assert {p.parent for p in made[3:]} == {made[0].key}  # round 2 builds on round 1's first pair
    assert len({p.key for p in made}) == 6
    assert made[4].refinement() == {
        "goal": "make_harder", "round": 2, "parent": made[0].key, "suggestion": "idea 2.2",
        "by": ["suggester", "editor"],
    }  # fmt: skip
    # the agents were asked for exactly 3: their schemas say so
    team = log.transcript.teams[0]
    assert [m.source for m in team.messages] == ["user", "suggester", "editor", "suggester", "editor"]
    assert "exactly 3" in str(team.messages[0].content)


def test_every_goal_is_planned_for_every_pair_unless_the_run_says_fewer() -> None:
    env = make_env({})
    names = [g.name for g in env.taxonomy.refinement_goals]
    assert env.taxonomy.goals_per_instruction == "all"
    plan = [[g.name for g in goals] for goals in goal_plan(env, 1, 2)]
    assert len(names) == 3 and all(sorted(goals) == sorted(names) for goals in plan) and len(plan) == 2
    one = make_env({}, goals_per_instruction=1)  # the old round-robin: one goal per pair, in turn
    assert [[g.name for g in goals] for goals in goal_plan(one, 1, 3)] == [[names[1]], [names[2]], [names[0]]]
    assert goal_plan(make_env({}, refinement_rounds=0), 0, 2) == [[], []]


async def test_all_goals_run_per_pair_in_a_seed() -> None:
    scripts = {
        "transformer": [transform_json("Speaker A: " + PASSAGE)],
        "instruction_writer": [instructions_json(MC)],
        "suggester": [json.dumps({"suggestions": ["change the number"]})] * 3,
        "editor": [_edits("x")] * 3,
        "teacher": [answer_json("A")] * 4,
    }
    env = make_env(scripts, specialists_per_seed=1, instructions_per_writer=1, suggestions_per_round=1)
    env.library = PersonaLibrary(
        {
            n: env.library.get(n)
            for n in ("conversation_transformer", "main_idea_writer", "suggester", "editor", "teacher")
        }
    )
    outcome = await process_seed(env, get_skill("reading_comprehension"), SEED, random.Random(0))
    steps = {t.step for t in outcome.transcript.teams if t.flow == "refinement"}
    assert steps == {f"main_idea-1:{g.name}" for g in env.taxonomy.refinement_goals} and len(steps) == 3
    answered = {t.step for t in outcome.transcript.teams if t.flow == "answer"}
    assert {f"answer:main_idea-1.{g.name}1-1" for g in env.taxonomy.refinement_goals} <= answered


def test_several_suggesters_and_editors_are_drawn_by_weight() -> None:
    library = PersonaLibrary.load()
    for skill in ("reading_comprehension", "text_modification", "tool_use"):
        for role in ("suggester", "editor"):
            assert len(library.pool(role, skill)) >= 3, (skill, role)
    env = make_env({})
    env.library = library
    seeds = [Seed(id=seed_id(f"text {n}"), source="s", text=f"text {n}") for n in range(90)]

    def drawn(env: FlowEnv) -> Counter[str]:
        picks = [draw_personas(env, seed_rng(7, seed)) for seed in seeds]
        return Counter(name for p in picks for name in (p.suggester.name, p.editor.name))

    even = drawn(env)
    for role in ("suggester", "editor"):
        assert all(even[p.name] >= 10 for p in library.pool(role, "reading_comprehension")), even
    assert drawn(env) == even  # a fixed run seed draws the same personas again
    heavy = library.get("logician_suggester").model_copy(update={"weight": 20.0})
    env.library = PersonaLibrary({**library.by_name, heavy.name: heavy})
    assert drawn(env)["logician_suggester"] > 0.8 * len(seeds)


async def _one_seed(teacher: list[str], goal: str, writer_key: str = "A") -> tuple[list, list, dict]:
    drafts = json.dumps({"instructions": [{"question": MC[0], "options": MC[1], "answer": writer_key}]})
    scripts = {
        "transformer": [transform_json("Speaker A: " + PASSAGE)],
        "instruction_writer": [drafts],
        "suggester": [json.dumps({"suggestions": ["swap the animal"]})],
        "editor": [_edits("flip")],
        "teacher": teacher,
    }
    env = make_env(scripts, specialists_per_seed=1, instructions_per_writer=1, suggestions_per_round=1)
    env.library = PersonaLibrary(
        {
            n: env.library.get(n)
            for n in ("conversation_transformer", "main_idea_writer", "suggester", "editor", "teacher")
        }
    )
    env.taxonomy = env.taxonomy.model_copy(update={"refinement_goals": [env.taxonomy.goal(goal)]})
    outcome = await process_seed(
        env, get_skill("reading_comprehension"), Seed(id=seed_id("x"), source="b", text=PASSAGE), random.Random(0)
    )
    return outcome.records, outcome.dropped, outcome.status.dropped


async def test_a_flipped_child_whose_answer_did_not_change_is_dropped_with_its_reason() -> None:
    kept, dropped, counts = await _one_seed([answer_json("A"), answer_json("A")], "flip_answer")
    assert [r.meta["instruction_key"] for r in kept] == ["main_idea-1"]
    (flipped,) = dropped
    assert flipped.meta["refinement"]["goal"] == "flip_answer"
    assert flipped.meta["dropped"]["by"] == VERIFICATION and flipped.meta["dropped"]["reason"] == "flip unchanged"
    assert counts == {"verification": 1}
    # the same seed where the flip did change the answer keeps both
    kept, dropped, counts = await _one_seed([answer_json("A"), answer_json("C")], "flip_answer")
    assert len(kept) == 2 and not dropped and counts == {}


async def test_a_teacher_who_disagrees_with_the_writers_key_drops_the_pair() -> None:
    kept, dropped, counts = await _one_seed([answer_json("B"), answer_json("B")], "make_harder", writer_key="C")
    (original,) = dropped
    assert original.meta["instruction_key"] == "main_idea-1"
    assert original.meta["dropped"]["reason"] == "key disagreement"
    assert "'C'" in original.meta["dropped"]["detail"] and "'B'" in original.meta["dropped"]["detail"]
    assert [r.meta["instruction_key"] for r in kept] == ["main_idea-1.make_harder1-1"]  # refined pairs have no key
    assert counts == {"verification": 1}


def _keyed(fmt: str, key: str, options: list[str] | None = None) -> Instruction:
    return Instruction(
        key="q-1", passage=PASSAGE, question="?", options=options or [], answer_key=key, subcategory="x",
        answer_format=fmt, writer="w",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "key", "agrees", "disagrees"),
    [
        ("multiple_choice", "B", "B) ants", "C"),
        ("true_false", "False", "False. The passage says otherwise.", "True"),
        ("numeric", "60,000 bees", "60000", "6,000"),
        ("fill_in_the_blank", "nectar", "Workers gather nectar.", "pollen"),
        ("ordering", "C, A, B", "C -> A -> B", "A, C, B"),
        ("matching", "1-B, 2-A, 3-C", "2 - A; 1 - B; 3 - C", "1-A, 2-B, 3-C"),
    ],
)
def test_the_writers_key_is_read_per_format(fmt: str, key: str, agrees: str, disagrees: str) -> None:
    inst = _keyed(fmt, key, ["bees", "ants", "wasps", "flies"] if fmt == "multiple_choice" else None)
    assert key_problem(inst, AnswerOutput(explanation="", final_answer=agrees)) is None
    verdict = key_problem(inst, AnswerOutput(explanation="", final_answer=disagrees))
    assert verdict is not None and verdict[0] == "key disagreement"


def test_an_unreadable_or_missing_key_is_not_verified() -> None:
    mc = ["bees", "ants", "wasps", "flies"]
    assert key_problem(_keyed("multiple_choice", "", mc), AnswerOutput(explanation="", final_answer="B")) is None
    assert key_problem(_keyed("multiple_choice", "Z", mc), AnswerOutput(explanation="", final_answer="B")) is None
    assert key_problem(_keyed("essay", "anything", None), AnswerOutput(explanation="", final_answer="other")) is None
