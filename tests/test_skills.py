"""All the skills: their taxonomies and personas fit together, every subcategory can be picked,
every skill runs end to end on the fake server, its checks tell a good sample from a bad one, and
a mixed run shares seeds out by weight."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import taxonomies
from agents.personas import PersonaLibrary
from taxonomies import available_skills, load_taxonomy
from teams.cli.app import app
from teams.engine.mixing import apportion, assign_skills, parse_skills, resolve_skill
from teams.engine.prepare import check_library
from teams.flows import FlowEnv, FlowSettings, pick_specialists
from teams.flows.outputs import (
    AnswerOutput,
    ConversationAnswer,
    ConversationTurn,
    InstructionDraft,
    instructions_output,
)
from teams.flows.types import Instruction, Record
from teams.skills import get_skill
from tests.conftest import REPO
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder, replay_pool

runner = CliRunner()
SKILLS = available_skills()
# The skills that run on the generic flows (tool use has flows of its own, and its own tests).
GENERIC_SKILLS = [s for s in SKILLS if load_taxonomy(s).record is not None]
OTHER_SKILLS = [s for s in GENERIC_SKILLS if s != "reading_comprehension"]
MIXED_SEEDS = REPO / "examples" / "mixed"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(competent_responder) as srv:
        yield srv


@pytest.fixture(scope="module")
def library() -> PersonaLibrary:
    return PersonaLibrary.load()


def run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- data: taxonomies and personas -----------------------------------------------------------


def test_the_taxonomies_hold_well_over_a_hundred_subcategories(library: PersonaLibrary) -> None:
    assert len(GENERIC_SKILLS) >= 16
    assert sum(len(load_taxonomy(s).subcategories) for s in SKILLS) >= 150
    assert library.check() == []


@pytest.mark.parametrize("skill", GENERIC_SKILLS)
def test_taxonomy_personas_and_team_script_fit_together(skill: str, library: PersonaLibrary) -> None:
    taxonomy = load_taxonomy(skill)
    assert get_skill(skill).name == skill
    check_library(library, skill, {s.name for s in taxonomy.subcategories}, taxonomy)
    for role in ("instruction_writer", "suggester", "editor", "teacher"):
        assert library.pool(role, skill), role
    transformers = library.pool("transformer", skill)
    assert {t.transformation for t in transformers} == {t.name for t in taxonomy.transformations}
    assert taxonomy.refinement_goals


@pytest.mark.parametrize("skill", GENERIC_SKILLS)
def test_every_subcategory_is_reachable(skill: str, library: PersonaLibrary) -> None:
    """The generator can pick every subcategory: for some transformation it is drawn by some specialist."""
    taxonomy = load_taxonomy(skill)
    pool, _ = replay_pool({})
    env = FlowEnv(taxonomy, library, pool, FlowSettings(specialists_per_seed=20))
    transformations = [t.transformation or "identity" for t in library.pool("transformer", skill)] or ["none"]
    picked = {
        sub.name
        for transformation in transformations
        for trial in range(200)
        for _, sub in pick_specialists(env, random.Random(trial), transformation)
    }
    assert picked == {s.name for s in taxonomy.subcategories}


def test_text_modification_follows_the_method() -> None:
    taxonomy = load_taxonomy("text_modification")
    assert not taxonomy.transformations and taxonomy.max_specialists == 1
    assert len(taxonomy.subcategories) == 18
    assert {g.name for g in taxonomy.refinement_goals} == {"narrative_frame", "rhyming_poem", "social_media_post"}


# --- every skill end to end on the fake server -----------------------------------------------


def _records(folder: Path) -> list[Record]:
    return [Record.model_validate_json(line) for line in (folder / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("skill", OTHER_SKILLS)
def test_every_skill_runs_end_to_end(skill: str, server: FakeOpenAIServer, tmp_path: Path) -> None:
    code, _, stderr = run_cli(
        "run", skill, "--seeds", str(MIXED_SEEDS / "tide_gauge.md"), "--model", "fake", "--base-url", server.base_url,
        "--out", str(tmp_path), "--run-id", "r", "--specialists", "1",
    )  # fmt: skip
    assert code == 0, stderr
    folder = tmp_path / "r"
    records = _records(folder)
    assert records and json.loads((folder / "run.json").read_text())["skill"] == skill
    taxonomy = load_taxonomy(skill)
    names = {s.name for s in taxonomy.subcategories}
    skill_object = get_skill(skill)
    for record in records:
        assert record.skill == skill and record.subcategory in names
        roles = [m.role for m in record.messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and all(m.content.strip() for m in record.messages)
        assert (folder / record.meta["transcript"]).is_file()
        # near-duplicate search splits the prompt into instruction and context by this text
        assert record.meta["instruction"] and record.meta["instruction"] in record.messages[0].content
        expected_transformation = "none" if not taxonomy.transformations else record.meta["transformation"]
        assert record.meta["transformation"] == expected_transformation
    if skill == "conversation":  # the user simulator's turns, each after the answer before it
        assert all(sum(m.role == "user" for m in r.messages) >= 2 for r in records)
        assert all(r.meta["personas"]["user_simulator"] == "conversation_user_simulator" for r in records)
    assert any(r.meta["refinement"] for r in records), "refinement ran"
    assert hasattr(skill_object, "messages")


def test_a_skill_team_script_runs_with_python_dash_m(server: FakeOpenAIServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    done = subprocess.run(
        [sys.executable, "-m", "teams.skills.fermi", "--seeds", str(MIXED_SEEDS / "tide_gauge.md"),
         "--model", "fake", "--base-url", server.base_url, "--out", str(tmp_path), "--run-id", "m"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {r.skill for r in _records(tmp_path / "m")} == {"fermi"}


# --- each skill's checks: a good sample passes, a bad one of its own kind fails --------------

PAGE = '[1] heading "Tides"\n[2] link "Home"\n[3] searchbox "Search"\n[4] button "Go"\n[5] textbox "Email"'
PASSAGES = "[1] Atlas: Bees make honey from nectar.\n[2] Guide: A colony holds 20,000 bees.\n[3] Blog: Cafe hours."
WORKED = ["Input: 2 + 3. Answer: 2 + 3 = 5", "Input: 4 + 1. Answer: 4 + 1 = 5"]
LONG = "Step by step: we list what is known, apply each rule in turn, and rule out every other possibility here."


def inst(
    fmt: str, sub: str = "x", passage: str = "Bees make honey from nectar in summer.", **fields: Any
) -> Instruction:
    return Instruction(
        key="k-1", passage=passage, subcategory=sub, answer_format=fmt, writer="w", **{"question": "Q?", **fields}
    )


def ans(final: str, explanation: str = LONG, turns: list[tuple[str, str, str]] | None = None) -> AnswerOutput:
    """An answer; with `turns` (user message, what it picks up, reply), a conversation whose first
    reply is `final`."""
    if turns is not None:
        first = ConversationTurn(user="Q?", reply=AnswerOutput(explanation=explanation, final_answer=final))
        later = [ConversationTurn(user=u, refers_to=r, reply=AnswerOutput(explanation="", final_answer=a)) for u, r, a in turns]
        return ConversationAnswer(explanation=explanation, final_answer=final, turns=[first, *later])
    return AnswerOutput(explanation=explanation, final_answer=final)


# skill -> (instruction, a good answer, a bad answer of the skill's own kind)
ANSWER_CASES: dict[str, tuple[Instruction, AnswerOutput, AnswerOutput]] = {
    "open_domain_question_answering": (
        inst("short_answer"),
        ans("Carbon dioxide", "Plants take in carbon dioxide through their leaves."),
        ans("Carbon dioxide", "According to the passage, plants take it in."),
    ),
    "text_modification": (
        inst("rewrite", "text_expansion"),
        ans("Bees make honey from nectar in summer, carrying it home and drying it in the comb."),
        ans("Bees make honey."),
    ),
    "web_agent": (inst("actions", passage=PAGE), ans('click [3]\ntype [3] "tides"\nclick [4]'), ans("click [9]")),
    "brain_teaser": (inst("short_answer"), ans("A candle"), ans("A candle", "Obvious.")),
    "analytical_reasoning": (
        inst("multiple_choice", options=["a", "b", "c", "d"]),
        ans("B"),
        ans("B", "B fits."),
    ),
    "multiple_choice_questions": (
        inst("multiple_choice", options=["one", "two", "three", "four"], answer_key="B"),
        ans("B"),
        ans("C"),
    ),
    "data_to_text": (
        inst("prose", passage="city: Kestrel\npopulation: 4,200\nharbours: 1\nfounded: 1820"),
        ans("Kestrel, founded in 1820, is home to 4,200 people and has 1 harbour on its sheltered bay."),
        ans("Kestrel, founded in 1820, is home to 5,000 people and has 1 harbour on its sheltered bay."),
    ),
    "fermi": (
        inst("estimate"),
        ans("about 2 x 10^4 tonnes", "Assume 1,000,000 people each eat roughly 20 kg a year."),
        ans("a lot", "It is big."),
    ),
    "coding": (
        inst("code"),
        ans("```python\ndef add_one(x: int) -> int:\n    return x + 1\n```"),
        ans("```python\ndef add_one(x)\n    return x +\n```"),
    ),
    "text_extraction": (
        inst("json", passage="Ada Lovelace wrote her notes in 1843.", options=["person", "year"]),
        ans('{"person": "Ada Lovelace", "year": 1843}'),
        ans('{"person": "Charles Babbage", "year": 1843}'),
    ),
    "text_classification": (
        inst("label", options=["positive", "negative"]),
        ans("positive"),
        ans("delighted"),
    ),
    "retrieval_augmented_generation": (
        inst("grounded", "single_passage_fact", passage=PASSAGES),
        ans("A colony holds 20,000 bees [2]."),
        ans("Colonies hold millions of ants [7]."),
    ),
    "creative_content_generation": (
        inst("creative", "poem"),
        ans("Gold in the comb,\nsummer's slow foam,\nnectar brought home,\nbees never roam."),
        ans("Bees hum."),
    ),
    "few_shot_reasoning": (
        inst("few_shot", options=WORKED, question="Input: 6 + 2, like the 2 examples"),
        ans("8", "Following the examples, add: 6 + 2 = 8."),
        ans("8", "8"),
    ),
    "conversation": (
        inst("conversation", follow_ups=["Why is that?", "And in winter?"]),
        ans("They make honey in summer.", turns=[("Why in summer?", "in summer", "Nectar is plentiful then."),
                                                 ("And in winter?", "Nectar", "They live on stored honey.")]),
        ans("They make honey in summer.", turns=[("Why in winter?", "in winter", "Nectar is scarce then.")]),
    ),
}


def problems(skill: str, instruction: Instruction, answer: AnswerOutput) -> list[str]:
    pool, _ = replay_pool({})
    env = FlowEnv(load_taxonomy(skill), PersonaLibrary({}), pool, FlowSettings(), skill_checks=get_skill(skill))
    return env.answer_problems(instruction, answer)


def test_every_other_skill_has_check_cases() -> None:
    assert set(ANSWER_CASES) == set(OTHER_SKILLS)


@pytest.mark.parametrize("skill", sorted(ANSWER_CASES))
def test_checks_accept_a_good_answer_and_reject_a_bad_one(skill: str) -> None:
    instruction, good, bad = ANSWER_CASES[skill]
    assert problems(skill, instruction, good) == []
    assert problems(skill, instruction, bad)


@pytest.mark.parametrize(
    ("skill", "instruction", "answer"),
    [
        ("web_agent", inst("actions", passage="Bees make honey."), ans("click [1]")),  # not a page
        ("retrieval_augmented_generation", inst("grounded", passage="[1] One passage only."), ans("Yes [1].")),
        (
            "retrieval_augmented_generation",
            inst("grounded", "insufficient_context", passage=PASSAGES),
            ans("20,000 [2]"),
        ),
        ("data_to_text", inst("prose", passage="Bees make honey from nectar."), ans("Bees make honey " * 5)),
        ("few_shot_reasoning", inst("few_shot", options=WORKED, question="Using the 3 examples: 6 + 2"), ans("8")),
        ("text_modification", inst("rewrite", "text_translation"), ans("In summer bees make honey from nectar.")),
        ("text_modification", inst("rewrite", "text_expansion", refinement_goal="rhyming_poem"), ans("One line.")),
        ("coding", inst("code"), ans("```python\ndef f(x):\n    pass\n```")),
    ],
)
def test_checks_reject_what_the_skill_forbids(skill: str, instruction: Instruction, answer: AnswerOutput) -> None:
    assert problems(skill, instruction, answer)


def test_rag_accepts_saying_the_passages_do_not_suffice() -> None:
    instruction = inst("grounded", "insufficient_context", passage=PASSAGES)
    assert problems("retrieval_augmented_generation", instruction, ans("The passages do not contain the year.")) == []


def draft(fmt: str, **fields: Any) -> InstructionDraft:
    return instructions_output(fmt).model_fields["instructions"].annotation.__args__[0](**fields)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("skill", "fmt", "good", "bad"),
    [
        ("multiple_choice_questions", "multiple_choice",
         {"question": "Which gas do plants take in?", "options": ["O2", "CO2", "N2", "He"], "answer": "B"},
         {"question": "Which gas do plants take in?", "options": ["O2", "CO2", "N2", "He"], "answer": "B and C"}),
        ("multiple_choice_questions", "multiple_choice",
         {"question": "Which gas do plants take in?", "options": ["O2", "CO2", "N2", "He"], "answer": "B"},
         {"question": "In the passage, which gas is named?", "options": ["O2", "CO2", "N2", "He"], "answer": "B"}),
        ("few_shot_reasoning", "few_shot",
         {"question": "Input: 6 + 2", "options": WORKED},
         {"question": "Input: 6 + 2", "options": ["2 + 3", "4 + 1"]}),
        ("conversation", "conversation",
         {"question": "How do bees make honey?", "follow_ups": ["Why do they fan it?", "And how long does that take?"]},
         {"question": "How do bees make honey?", "follow_ups": ["Why do they fan it?", "Quantum lattice gauge?"]}),
        ("text_extraction", "json",
         {"question": "Extract the person and the year.", "options": ["person", "year"]},
         {"question": "Extract the person and the year.", "options": ["the person who wrote it, if any", "year"]}),
    ],
)  # fmt: skip
def test_draft_checks_accept_a_good_draft_and_reject_a_bad_one(
    skill: str, fmt: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    taxonomy = load_taxonomy(skill)
    sub = next(s for s in taxonomy.subcategories if s.answer_format == fmt)
    pool, _ = replay_pool({})
    env = FlowEnv(taxonomy, PersonaLibrary({}), pool, FlowSettings(), skill_checks=get_skill(skill))
    assert env.draft_problems(draft(fmt, **good), sub) == []
    assert env.draft_problems(draft(fmt, **bad), sub)


# --- mixed runs ------------------------------------------------------------------------------


def test_skills_are_named_in_full_by_initials_or_prefix() -> None:
    assert resolve_skill("rc") == "reading_comprehension"
    assert resolve_skill("rag") == "retrieval_augmented_generation"
    assert resolve_skill("cod") == "coding"
    assert parse_skills("rc:2,fermi") == {"reading_comprehension": 2.0, "fermi": 1.0}
    assert set(parse_skills("all")) == set(SKILLS) - {"tool_use"}  # tool use takes code, not documents
    for spec, message in (
        ("rc,tool_use", "takes code seeds"),
        ("co", "ambiguous"),
        ("nope", "unknown skill"),
        ("rc:x", "not a number"),
        ("rc:0", "positive"),
    ):
        with pytest.raises(taxonomies.TaxonomyError, match=message):
            parse_skills(spec)


def test_apportion_follows_the_weights_and_is_reproducible() -> None:
    weights = {"a": 2.0, "b": 1.0, "c": 1.0}
    assert apportion(weights, 8, random.Random(0)) == {"a": 4, "b": 2, "c": 2}
    assert sum(apportion(weights, 7, random.Random(0)).values()) == 7
    ids = [f"s{i}" for i in range(12)]
    assert assign_skills(ids, weights, 3) == assign_skills(ids, weights, 3)
    assert Counter(assign_skills(ids, weights, 3).values()) == {"a": 6, "b": 3, "c": 3}
    assert any(assign_skills(ids, weights, 3) != assign_skills(ids, weights, s) for s in (4, 5, 6))


def mixed_seeds(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for i in range(count):
        (folder / f"s{i:02}.txt").write_text(
            f"Seed {i}: the harbour at Kestrel recorded a tide of {i + 3}.5 metres at noon on day {i + 1}. "
            f"Boats needing {i % 3 + 2} metres of water waited for the tide before entering.",
            encoding="utf-8",
        )
    return folder


def test_a_mixed_run_spreads_seeds_by_weight(server: FakeOpenAIServer, tmp_path: Path) -> None:
    seeds = mixed_seeds(tmp_path, 12)

    def run(run_id: str) -> list[dict[str, Any]]:
        code, stdout, stderr = run_cli(
            "run", "--skills", "rc:2,fermi:1", "--seeds", str(seeds), "--model", "fake", "--base-url", server.base_url,
            "--out", str(tmp_path / "runs"), "--run-id", run_id, "--seed", "5", "--specialists", "1",
            "--refinement-rounds", "0",
        )  # fmt: skip
        assert code == 0, stderr
        return [json.loads(line) for line in (tmp_path / "runs" / run_id / "seeds.jsonl").read_text().splitlines()]

    first = run("m1")
    assert Counter(s["skill"] for s in first) == {"reading_comprehension": 8, "fermi": 4}
    assert {(s["id"], s["skill"]) for s in first} == {(s["id"], s["skill"]) for s in run("m2")}
    folder = tmp_path / "runs" / "m1"
    info = json.loads((folder / "run.json").read_text())
    assert info["skill"] == "mixed" and info["skills"] == {"reading_comprehension": 2.0, "fermi": 1.0}
    skill_of_seed = {s["id"]: s["skill"] for s in first}
    records = _records(folder)
    assert {r.skill for r in records} == {"reading_comprehension", "fermi"}
    assert all(r.skill == skill_of_seed[r.meta["seed_id"]] for r in records)

    code, stdout, _ = run_cli("runs", "list", "--out", str(tmp_path / "runs"), "--json")
    rows = json.loads(stdout)
    assert rows[0]["skill"] == "mixed (2 skills)" and rows[0]["skills"] == info["skills"]
    code, stdout, _ = run_cli("runs", "show", "m1", "--out", str(tmp_path / "runs"))
    assert code == 0 and "mixed: reading_comprehension:2, fermi:1" in stdout and "fermi" in stdout


def test_run_refuses_a_skill_and_skills_together(tmp_path: Path) -> None:
    code, _, stderr = run_cli("run", "fermi", "--skills", "rc", "--seeds", str(MIXED_SEEDS))
    assert code == 2 and "not both" in stderr and "\n" not in stderr.strip()
    code, _, stderr = run_cli("run", "--seeds", str(MIXED_SEEDS))
    assert code == 2 and "name a skill" in stderr


# --- skills list / show ----------------------------------------------------------------------


def test_skills_list_and_show(library: PersonaLibrary) -> None:
    code, stdout, _ = run_cli("skills", "list", "--json")
    rows = {row["skill"]: row for row in json.loads(stdout)}
    assert code == 0 and set(rows) == set(SKILLS)
    for skill, row in rows.items():
        taxonomy = load_taxonomy(skill)
        assert row["subcategories"] == len(taxonomy.subcategories)
        assert row["transformations"] == len(taxonomy.transformations)
        # the personas a run of the skill may draw, as `personas list --skill` lists them ("*" ones too)
        code, listed, _ = run_cli("personas", "list", "--skill", skill, "--json")
        assert code == 0 and row["personas"] == len(json.loads(listed)) > 0
    naming = {s: sum(s in p.skills for p in library.by_name.values()) for s in rows}
    assert any(row["personas"] > naming[s] for s, row in rows.items())  # the "*" ones count where drawn
    code, stdout, _ = run_cli("skills", "list")
    assert code == 0 and "text_modification" in stdout and f"{len(SKILLS)} skills" in stdout
    code, stdout, _ = run_cli("skills", "show", "fermi")
    assert code == 0 and "count_of_things" in stdout and "estimate" in stdout and "planning_brief" in stdout
    code, stdout, _ = run_cli("skills", "show", "text_modification", "--json")
    assert json.loads(stdout)["transformations"] == []
    code, _, stderr = run_cli("skills", "show", "nope")
    assert code == 2 and "unknown skill 'nope'" in stderr


def test_skills_list_picks_up_a_new_taxonomy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in taxonomies.TAXONOMY_DIR.glob("*.yaml"):  # all of them: a persona's skill must be known
        shutil.copy(path, tmp_path)
    text = (tmp_path / "fermi.yaml").read_text(encoding="utf-8").replace("skill: fermi", "skill: estimation_drills")
    (tmp_path / "estimation_drills.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(taxonomies, "TAXONOMY_DIR", tmp_path)
    load_taxonomy.cache_clear()
    try:
        code, stdout, _ = run_cli("skills", "list", "--json")
        assert code == 0 and [row["skill"] for row in json.loads(stdout)] == sorted([*SKILLS, "estimation_drills"])
    finally:
        load_taxonomy.cache_clear()
