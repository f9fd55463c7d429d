"""1. Content transformation: a transformer persona rewrites the seed into a form that suits the
skill (a debate, a meeting transcript, a poem...); the identity transformer keeps it as it is.

With a reviewer (`transform_review`), the transformer and a reviewer persona talk in a group chat:
the reviewer checks that the rewrite keeps the seed's facts and adds none, and when it does not,
sends it back once with what to fix; the transformer's second rewrite is the passage. A
transformation that invents facts would otherwise flow into every question asked about it."""

from __future__ import annotations

from collections.abc import Sequence

from autogen_agentchat.conditions import FunctionalTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage

from agents.factory import build_agent
from agents.personas import Persona
from retrieval.seeds import Seed
from teams.flows.outputs import ReviewOutput, TransformOutput
from teams.flows.prompts import Prompts
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team
from teams.flows.types import TeamTranscript, TranscriptMessage

IDENTITY = "identity"
MIN_PASSAGE_CHARS = 40
PROMPTS = Prompts.of_step("transform")
REVIEWED_TURNS = 3  # the rewrite, the review, and at most one rewrite sent back


def review_wanted(env: FlowEnv, transformer: Persona) -> bool:
    """Whether a reviewer checks this transformer's rewrites: the setting, or by default, whenever
    the transformer's model is not the embedded one (too small to review usefully, and slow)."""
    if (transformer.transformation or IDENTITY) == IDENTITY:
        return False
    if env.settings.transform_review is not None:
        return env.settings.transform_review
    return not env.pool.spec_for(transformer.uses_model_role).is_local


def _approved(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> bool:
    last = messages[-1] if messages else None
    return isinstance(last, StructuredMessage) and isinstance(last.content, ReviewOutput) and last.content.approved


async def transform(
    env: FlowEnv, log: SeedLog, seed: Seed, transformer: Persona, reviewer: Persona | None = None
) -> str | None:
    """The seed rewritten into the transformer's form (reviewed, with a reviewer); None when every
    attempt failed."""
    transformation = transformer.transformation or IDENTITY
    if transformation == IDENTITY:
        log.transcript.teams.append(
            TeamTranscript(
                flow="content_transformation",
                step=f"transform:{IDENTITY}",
                participants=[{"name": transformer.name, "persona": transformer.name, "model": "none"}],
                messages=[TranscriptMessage(source=transformer.name, type="Identity", content=seed.text)],
            )
        )
        return seed.text
    task = PROMPTS.render(
        "task", transformation=transformation, text=seed.text, review=reviewer is not None,
        json_hint=json_hint(TransformOutput),
    )  # fmt: skip
    context = {"skill": env.skill, "transformation": transformation}
    attempts = Attempts(env, log, "content_transformation", f"transform:{transformation}")
    for record in attempts:
        agents = [build_agent(transformer, env.pool, TransformOutput, context)]
        if reviewer is not None:
            agents.append(build_agent(reviewer, env.pool, ReviewOutput, context))
        turns = REVIEWED_TURNS if reviewer is not None else 1
        outputs = await run_team(
            agents, [TransformOutput, ReviewOutput], task, turns, record, FunctionalTermination(_approved)
        )
        passages = [o.passage for _, o in outputs if isinstance(o, TransformOutput)]
        if passages and len(passages[-1].strip()) >= MIN_PASSAGE_CHARS:
            return passages[-1].strip()
        attempts.reject("no passage, or one too short to ask about")
    attempts.give_up()
    return None
