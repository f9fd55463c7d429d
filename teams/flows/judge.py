"""The judge: an LLM-as-judge persona scores every candidate record against its rubric.

The rubric is data (the judge persona's `rubric:`), so a new skill is judged with no code: the
judge written for every skill (`agents/personas/any_skill/judge.yaml`) serves it until it has
one of its own. The judge answers with one (reason, score 1-5) per criterion; the record's
score is their mean. Records below `flow.judge_threshold` are dropped and counted; 0 turns the
judge off.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from agents.factory import build_agent
from agents.personas import Persona
from teams.flows.outputs import SHORT_MAX
from teams.flows.prompts import Prompts
from teams.flows.runtime import FlowEnv, SeedLog, run_team, weighted_pick
from teams.flows.types import Message, Record, TeamTranscript

Score = Literal[1, 2, 3, 4, 5]
PROMPTS = Prompts.of_step("judge")


class CriterionScore(BaseModel):
    """The reason comes first, so a model reasons before it scores."""

    reason: str = Field(min_length=1, max_length=SHORT_MAX)
    score: Score


class JudgeOutput(BaseModel):
    """One CriterionScore per rubric criterion; the fields are the criteria's names."""

    def scores(self) -> dict[str, CriterionScore]:
        return {name: value for name, value in self if isinstance(value, CriterionScore)}


@cache
def judge_output(criteria: tuple[str, ...]) -> type[JudgeOutput]:
    """The judge's schema for one rubric: every criterion required, so a constrained decoder
    cannot leave one out."""
    fields: dict[str, Any] = {name: (CriterionScore, ...) for name in criteria}
    return create_model(f"Judge{len(criteria)}_{abs(hash(criteria)) % 10**8}", __base__=JudgeOutput, **fields)


class Verdict(BaseModel):
    """What a record's meta keeps of its judging."""

    score: float = Field(description="the mean of the criteria's scores, 1-5")
    scores: dict[str, int]
    reasons: dict[str, str]
    judge: str
    model: str
    threshold: float
    tokens: int = 0

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold


def _turn_text(message: Message) -> str:
    """One turn as the judge reads it; an assistant's tool calls are part of what it said."""
    text = f"[{message.role}]\n{message.content}"
    for call in message.tool_calls or []:
        function = call.get("function", {})
        text += f"\n(calls {function.get('name')} with {function.get('arguments')})"
    return text


async def judge_record(
    env: FlowEnv, log: SeedLog, key: str, messages: Sequence[Message], meta: dict[str, Any], judge: Persona
) -> Verdict | None:
    """The judge's verdict on one candidate record; None if every attempt was malformed (the
    failure is recorded, and an unjudged record is not kept)."""
    criteria = tuple(c.name for c in judge.rubric)
    output_type = judge_output(criteria)
    fields = ", ".join(f'"{name}": {{"reason": ..., "score": 1-5}}' for name in criteria)
    task = PROMPTS.render(
        "task",
        turns="\n\n".join(_turn_text(m) for m in messages),
        # the item was edited on purpose so that it cannot be answered: saying so is the right answer
        made_unanswerable=(meta.get("refinement") or {}).get("goal") == "make_unanswerable",
        json_hint=f"{{{fields}}}",
    )
    context = {"skill": env.skill, "rubric": [c.model_dump() for c in judge.rubric]}
    error = "no verdict"
    for attempt in range(1, env.settings.max_attempts + 1):
        record = TeamTranscript(flow="judge", step=f"judge:{key}", attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        agent = build_agent(judge, env.pool, output_type, context)
        outputs = await run_team([agent], [output_type], task, 1, record)
        verdicts = [o for _, o in outputs if isinstance(o, JudgeOutput)]
        if verdicts:
            scores = verdicts[0].scores()
            return Verdict(
                score=round(sum(s.score for s in scores.values()) / len(scores), 2),
                scores={name: s.score for name, s in scores.items()},
                reasons={name: s.reason for name, s in scores.items()},
                judge=judge.name,
                model=env.pool.spec_for(judge.uses_model_role).label,
                threshold=env.settings.judge_threshold,
                tokens=sum(m.prompt_tokens + m.completion_tokens for m in record.messages),
            )
        error = record.error or "no verdict"
    log.fail("judge", f"judge:{key}", error)
    return None


def pick_judge(env: FlowEnv, rng: random.Random) -> Persona | None:
    """A judge for the skill, drawn by weight; None when judging is off."""
    if env.settings.judge_threshold <= 0:
        return None
    chosen = weighted_pick(rng, env.library.pool("judge", env.skill), 1)
    return chosen[0] if chosen else None


async def judge_records(
    env: FlowEnv, log: SeedLog, records: list[Record], judge: Persona
) -> tuple[list[Record], list[Record]]:
    """Judge every candidate record; return (kept, dropped). Each gets its verdict in
    `meta.judge`; a dropped one also says why in `meta.dropped`."""
    verdicts = await asyncio.gather(
        *(judge_record(env, log, r.meta.get("instruction_key", r.id), r.messages, r.meta, judge) for r in records)
    )
    kept: list[Record] = []
    dropped: list[Record] = []
    threshold = env.settings.judge_threshold
    seed_total = log.tokens  # the judge's tokens included
    for record, verdict in zip(records, verdicts, strict=True):
        record.meta["tokens"] = {**record.meta.get("tokens", {}), "seed_total": seed_total}
        if verdict is None:
            record.meta["dropped"] = {"by": "judge", "reason": "the judge gave no usable verdict"}
            dropped.append(record)
            continue
        record.meta["judge"] = verdict.model_dump(exclude={"threshold", "tokens"})
        record.meta["tokens"]["judge"] = verdict.tokens
        if verdict.passed:
            kept.append(record)
        else:
            record.meta["dropped"] = {"by": "judge", "reason": f"score {verdict.score} below {threshold}"}
            dropped.append(record)
    return kept, dropped
