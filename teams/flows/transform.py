"""1. Content transformation: a transformer persona rewrites the seed into a form that suits the
skill (a debate, a meeting transcript, a poem...); the identity transformer keeps it as it is."""

from __future__ import annotations

from agents.factory import build_agent
from agents.personas import Persona
from retrieval.seeds import Seed
from teams.flows.outputs import TransformOutput
from teams.flows.prompts import Prompts
from teams.flows.runtime import Attempts, FlowEnv, SeedLog, json_hint, run_team
from teams.flows.types import TeamTranscript, TranscriptMessage

IDENTITY = "identity"
MIN_PASSAGE_CHARS = 40
PROMPTS = Prompts.of_step("transform")


async def transform(env: FlowEnv, log: SeedLog, seed: Seed, transformer: Persona) -> str | None:
    """The seed rewritten into the transformer's form; None when every attempt failed."""
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
    task = PROMPTS.render("task", transformation=transformation, text=seed.text, json_hint=json_hint(TransformOutput))
    context = {"skill": env.skill, "transformation": transformation}
    attempts = Attempts(env, log, "content_transformation", f"transform:{transformation}")
    for record in attempts:
        agent = build_agent(transformer, env.pool, TransformOutput, context)
        outputs = await run_team([agent], [TransformOutput], task, 1, record)
        passages = [o.passage for _, o in outputs if isinstance(o, TransformOutput)]
        if passages and len(passages[0].strip()) >= MIN_PASSAGE_CHARS:
            return passages[0].strip()
        attempts.reject("no passage, or one too short to ask about")
    attempts.give_up()
    return None
