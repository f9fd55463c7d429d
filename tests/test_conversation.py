"""The conversation skill as a conversation: the user simulator writes each turn after reading the
assistant's answer, in one group chat, and may end it when its need is met; the record holds the
alternation as it happened; the checks hold the user turns to what the answers said."""

from __future__ import annotations

import json
from typing import Any

from agents.personas import PersonaLibrary
from taxonomies import load_taxonomy
from teams.flows import FlowEnv, FlowSettings, SeedLog
from teams.flows.checks import check_user_turns, refers_to_earlier
from teams.flows.outputs import ConversationAnswer
from teams.flows.types import Instruction
from teams.skills import get_skill
from teams.skills.conversation import SKILL, converse
from tests.fakes import answer_json, replay_pool
from tests.test_flows import SEED

PASSAGE = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while workers gather nectar."
INSTRUCTION = Instruction(
    key="deepening-1", passage=PASSAGE, question="How large is a honeybee colony?", subcategory="deepening",
    answer_format="conversation", writer="curious_learner_writer", follow_ups=["Why so many?", "Who leads them?"],
)  # fmt: skip
ANSWERS = [
    answer_json("A colony holds up to 60,000 bees.", "The text gives the number."),
    answer_json("Workers gather the nectar the colony lives on, so many hands are needed.", "The text names workers."),
    answer_json("The queen lays the eggs; she does not lead the foraging.", "The text says what the queen does."),
]


def user_turn(message: str, refers_to: str, done: bool = False) -> str:
    return json.dumps({"message": message, "refers_to": refers_to, "done": done})


def env_with(scripts: dict[str, list[str]], **settings: Any) -> tuple[FlowEnv, dict]:
    pool, clients = replay_pool(scripts)
    env = FlowEnv(load_taxonomy("conversation"), PersonaLibrary.load(), pool,
                  FlowSettings(max_attempts=1, **settings), skill_checks=get_skill("conversation"))  # fmt: skip
    return env, clients


async def run(env: FlowEnv) -> tuple[ConversationAnswer | None, SeedLog]:
    log = SeedLog(SEED)
    teacher, simulator = env.library.get("conversation_teacher"), env.library.get("conversation_user_simulator")
    result = await converse(env, log, INSTRUCTION, teacher, simulator, SKILL.user_turn(INSTRUCTION))
    answer = result[0] if result else None
    assert answer is None or isinstance(answer, ConversationAnswer)
    return answer, log


async def test_each_user_turn_is_written_after_the_answer_before_it_and_the_record_alternates() -> None:
    env, clients = env_with({
        "teacher": ANSWERS,
        "user_simulator": [user_turn("Why does a colony need so many bees?", "up to 60,000 bees"),
                           user_turn("And what does the queen do, then?", "Workers gather the nectar")],
    }, turns=3)  # fmt: skip
    answer, log = await run(env)
    assert answer is not None and len(answer.turns) == 3
    team = log.transcript.teams[0]
    speakers = [m.source for m in team.messages]
    assert speakers == ["user"] + ["conversation_teacher", "conversation_user_simulator"] * 2 + ["conversation_teacher"]
    # what each saw when it spoke: the user simulator had read the answer before it; the teacher, the user's turn
    first_user_call = clients["user_simulator"].create_calls[0]["messages"]
    assert "up to 60,000 bees" in first_user_call[-1].content
    second_user_call = clients["user_simulator"].create_calls[1]["messages"]
    assert "Workers gather the nectar" in second_user_call[-1].content
    assert "Why does a colony need so many bees?" in clients["teacher"].create_calls[1]["messages"][-1].content
    messages = SKILL.messages(INSTRUCTION, answer)
    assert [m.role for m in messages] == ["user", "assistant"] * 3
    assert PASSAGE in messages[0].content and messages[2].content == "Why does a colony need so many bees?"
    assert "60,000 bees" in messages[1].content and "queen lays the eggs" in messages[5].content


async def test_the_user_ends_the_chat_early_when_its_need_is_met() -> None:
    env, clients = env_with({
        "teacher": ANSWERS,
        "user_simulator": [user_turn("Why does a colony need so many bees?", "up to 60,000 bees"),
                           user_turn("Thanks, that is what I needed.", "many hands are needed", done=True)],
    }, turns=4)  # fmt: skip
    answer, log = await run(env)
    assert answer is not None and [t.user for t in answer.turns][1] == "Why does a colony need so many bees?"
    assert len(answer.turns) == 2  # the closing "thanks" is not a turn of the record
    assert len(clients["teacher"].create_calls) == 2 and len(clients["user_simulator"].create_calls) == 2
    assert [m.role for m in SKILL.messages(INSTRUCTION, answer)] == ["user", "assistant"] * 2


async def test_a_turn_that_picks_up_nothing_the_answers_said_is_rejected() -> None:
    env, _ = env_with({
        "teacher": ANSWERS,
        "user_simulator": [user_turn("What do drones eat?", "drones eat pollen"),
                           user_turn("Fine.", "queen", done=True)],
    }, turns=3)  # fmt: skip
    answer, log = await run(env)
    assert answer is None
    assert log.failures and "picks up 'drones eat pollen'" in log.failures[0].reason


def test_user_turns_must_differ_and_refer_loosely_to_an_earlier_answer() -> None:
    earlier = ["", "A colony holds up to 60,000 bees.", "A colony holds up to 60,000 bees. Workers gather nectar."]
    assert refers_to_earlier("up to 60,000 Bees", earlier[1])  # case and punctuation aside
    assert refers_to_earlier("the workers gathering nectar", earlier[2])  # most content words are there
    assert not refers_to_earlier("the queen's flight", earlier[2])
    good = ["How big is a colony?", "Why so many?", "Who gathers nectar?"]
    assert check_user_turns(good, ["", "60,000 bees", "workers gather nectar"], earlier) == []
    assert check_user_turns(["How big?", "Why so many?", "why so many?"], ["", "60,000", "60,000"], earlier) == [
        "two user turns are the same"
    ]
