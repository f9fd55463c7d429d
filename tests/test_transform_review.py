"""The transformation reviewer: in a group chat with the transformer, it checks that the rewrite
keeps the seed's facts; an objection sends the rewrite back once, an approval ends the chat."""

from __future__ import annotations

import json

from agents.models import ModelSpec
from agents.personas import PersonaLibrary
from retrieval.seeds import Seed, seed_id
from taxonomies import load_taxonomy
from teams.flows import FlowEnv, FlowSettings, SeedLog, transform
from teams.flows.transform import review_wanted
from tests.fakes import replay_pool, transform_json

PASSAGE = "Honeybees live in colonies of up to 60,000 bees. The queen lays eggs while workers gather nectar."
SEED = Seed(id=seed_id(PASSAGE), source="bees.txt", text=PASSAGE)
INVENTED = "Speaker A: Colonies hold up to 80,000 bees. Speaker B: And the queen gathers the nectar herself."
FIXED = "Speaker A: Colonies hold up to 60,000 bees. Speaker B: The queen lays eggs; workers gather nectar."
OBJECTION = json.dumps({"fixes": ["the text says 60,000 bees, not 80,000", "workers gather nectar, not the queen"],
                        "approved": False})  # fmt: skip
APPROVAL = json.dumps({"fixes": [], "approved": True})


def env_with(scripts: dict[str, list[str]], **settings: object) -> tuple[FlowEnv, dict]:
    pool, clients = replay_pool(scripts)
    env = FlowEnv(load_taxonomy("reading_comprehension"), PersonaLibrary.load(), pool, FlowSettings(**settings))  # type: ignore[arg-type]
    return env, clients


async def test_an_objection_sends_the_rewrite_back_once_with_what_to_fix() -> None:
    env, clients = env_with({"transformer": [transform_json(INVENTED), transform_json(FIXED)],
                             "transform_reviewer": [OBJECTION]})  # fmt: skip
    log = SeedLog(SEED)
    debate, reviewer = env.library.get("debate_transformer"), env.library.get("transform_reviewer")
    assert await transform(env, log, SEED, debate, reviewer) == FIXED
    team = log.transcript.teams[0]
    assert [m.source for m in team.messages] == ["user", "debate_transformer", "transform_reviewer", "debate_transformer"]
    assert [p["name"] for p in team.participants] == ["debate_transformer", "transform_reviewer"]
    assert team.messages[2].content["approved"] is False
    # the reviewer read the seed and the first rewrite; the second rewrite was written after the objection
    review_call = clients["transform_reviewer"].create_calls[0]["messages"]
    assert PASSAGE in review_call[1].content and INVENTED in review_call[2].content
    second = clients["transformer"].create_calls[1]["messages"]
    assert "60,000 bees, not 80,000" in second[-1].content


async def test_an_approval_ends_the_chat_with_no_second_transformation() -> None:
    env, clients = env_with({"transformer": [transform_json(FIXED), transform_json(INVENTED)],
                             "transform_reviewer": [APPROVAL]})  # fmt: skip
    log = SeedLog(SEED)
    debate, reviewer = env.library.get("debate_transformer"), env.library.get("transform_reviewer")
    assert await transform(env, log, SEED, debate, reviewer) == FIXED
    assert [m.source for m in log.transcript.teams[0].messages] == ["user", "debate_transformer", "transform_reviewer"]
    assert len(clients["transformer"].create_calls) == 1


def test_the_review_is_on_by_default_for_endpoints_and_off_for_the_embedded_model() -> None:
    env, _ = env_with({})
    debate, identity = env.library.get("debate_transformer"), env.library.get("identity_transformer")
    assert review_wanted(env, debate)  # the replay pool's specs are endpoints, not the embedded model
    assert not review_wanted(env, identity)  # nothing to review: the seed as it is
    env.pool.specs["transformer"] = ModelSpec()  # the embedded model
    assert not review_wanted(env, debate)
    env.settings = FlowSettings(transform_review=True)
    assert review_wanted(env, debate)
    env.settings = FlowSettings(transform_review=False)
    env.pool.specs["transformer"] = ModelSpec(model="gpt-4o")
    assert not review_wanted(env, debate)
