"""The team runtime every step of the method runs on: what one run's flows share (FlowEnv), what
one seed's teams leave (SeedLog: the transcript and the failures), a step's bounded attempts, and
running an agent or a group chat into the transcript.

Every team is built fresh for each attempt, every message it says goes into the seed's
transcript (failed attempts included), and a malformed answer is retried a bounded number
of times before the step is given up and recorded as a failure: one bad answer never
crashes a run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from autogen_agentchat.base import TaskResult, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from agents.factory import BuiltAgent
from agents.models.pool import ModelPool
from agents.personas import Persona, PersonaLibrary
from retrieval.seeds import Seed
from retrieval.sources import source_name
from taxonomies import Subcategory, Taxonomy
from teams.flows.checks import check_answer, check_draft
from teams.flows.errors import one_line
from teams.flows.outputs import AnswerOutput, InstructionDraft
from teams.flows.types import Instruction, SeedTranscript, TeamTranscript, TranscriptMessage

if TYPE_CHECKING:
    from teams.flows.skill import Skill


class FlowSettings(BaseModel):
    """How much each flow does per seed."""

    model_config = ConfigDict(extra="forbid")

    specialists_per_seed: int = Field(2, ge=1, le=20)
    instructions_per_writer: int = Field(2, ge=1, le=5)
    refinement_rounds: int = Field(1, ge=0, le=5)
    suggestions_per_round: int = Field(
        3, ge=1, le=5, description="a Suggester's suggestions per round; the Editor makes one new pair of each"
    )
    goals_per_instruction: Literal["all"] | Annotated[int, Field(ge=1, le=10)] | None = Field(
        None, description="refinement goals each pair is refined toward: 'all', a number, or None: the taxonomy's"
    )
    max_attempts: int = Field(3, ge=1, le=10, description="tries per step: 1 + bounded retries")
    judge_threshold: float = Field(3.0, ge=0, le=5, description="mean judge score (1-5) a record needs; 0: no judge")
    turns: int = Field(3, ge=1, le=8, description="conversation, tool use: user turns at most (the user simulator may stop sooner)")
    max_searches: int = Field(4, ge=1, le=10, description="tool use: search calls the API retriever may make")
    transform_review: bool | None = Field(
        None, description="a reviewer checks each transformation keeps the seed's facts; None: on unless the model is the embedded one"
    )


class Failure(BaseModel):
    """A step given up after its bounded retries."""

    flow: str
    step: str
    reason: str


class FlowEnv:
    """What every flow of one run shares: skill data, personas, models, settings."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        library: PersonaLibrary,
        pool: ModelPool,
        settings: FlowSettings,
        skill_checks: Skill | None = None,
        resources: dict[str, Any] | None = None,
        run_id: str = "",
        seeds: str = "",
    ):
        self.taxonomy = taxonomy
        self.library = library
        self.pool = pool
        self.settings = settings
        # The skill (teams.flows.skill.Skill): its optional check_draft(draft, subcategory) and
        # check_answer(instruction, answer) add to, or replace, the format checks.
        self.skill_checks = skill_checks
        self.resources = resources or {}  # what a skill's own flows share, e.g. tool use's code index
        self.run_id = run_id  # every record's meta names its run
        self.seeds = seeds  # the run's seeds: records name a seed's source from their name down

    def source_name(self, seed: Seed) -> str:
        """The seed's source as its records name it (retrieval.sources.source_name)."""
        return source_name(seed.source, self.seeds)

    def draft_problems(self, draft: InstructionDraft, sub: Subcategory) -> list[str]:
        extra = getattr(self.skill_checks, "check_draft", None)
        return check_draft(draft, sub.answer_format) + (extra(draft, sub) if extra else [])

    def answer_problems(self, instruction: Instruction, reply: AnswerOutput) -> list[str]:
        own = getattr(self.skill_checks, "check_answer", None)
        return own(instruction, reply) if own else check_answer(instruction, reply)

    @property
    def skill(self) -> str:
        return self.taxonomy.skill


class SeedLog:
    """The transcript and failures of one seed, filled in as its teams talk."""

    def __init__(self, seed: Seed):
        self.transcript = SeedTranscript(seed_id=seed.id, source=seed.source)
        self.failures: list[Failure] = []

    def fail(self, flow: str, step: str, reason: str) -> None:
        self.failures.append(Failure(flow=flow, step=step, reason=reason))

    @property
    def tokens(self) -> int:
        return sum(m.prompt_tokens + m.completion_tokens for team in self.transcript.teams for m in team.messages)


class Attempts:
    """A step's bounded attempts, each a fresh TeamTranscript in the seed's transcript:

        attempts = Attempts(env, log, "refinement", step)
        for record in attempts:
            ...  # run the team into `record`; return what it gave if usable
            attempts.reject("why it was not")
        attempts.give_up()  # the step's failure, with the last attempt's reason

    `reject` marks an attempt whose team ran fine but whose answer was unusable; an attempt
    whose team failed keeps its own error, which is then the reason."""

    def __init__(self, env: FlowEnv, log: SeedLog, flow: str, step: str):
        self.max_attempts = env.settings.max_attempts
        self.log, self.flow, self.step = log, flow, step
        self.error = "failed"
        self.record: TeamTranscript | None = None

    def __iter__(self) -> Iterator[TeamTranscript]:
        for attempt in range(1, self.max_attempts + 1):
            self.record = TeamTranscript(flow=self.flow, step=self.step, attempt=attempt, participants=[])
            self.log.transcript.teams.append(self.record)
            yield self.record

    def reject(self, why: str) -> None:
        assert self.record is not None
        self.error = self.record.error or why
        if self.record.status == "ok":
            self.record.status, self.record.error = "invalid", self.error

    def give_up(self) -> None:
        self.log.fail(self.flow, self.step, self.error)


# --- running one team ------------------------------------------------------------------------


def _transcript_message(message: BaseAgentEvent | BaseChatMessage) -> TranscriptMessage:
    content: Any = getattr(message, "content", None)
    if isinstance(content, BaseModel):
        content = content.model_dump()
    elif not isinstance(content, str | int | float | bool | type(None) | list | dict):
        content = str(content)
    usage = message.models_usage
    return TranscriptMessage(
        source=message.source,
        type=message.__class__.__name__,
        content=content,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
    )


async def stream_into(runnable: Any, task: str, transcript: TeamTranscript) -> list[Any]:
    """Run an agent or a team on `task`; return what it said, in order, each item also appended to
    `transcript`. An agent's error ends the run and is noted there: it never propagates."""
    items: list[Any] = []
    try:
        async for item in runnable.run_stream(task=task):
            if isinstance(item, TaskResult):
                continue
            items.append(item)
            transcript.messages.append(_transcript_message(item))
    except Exception as exc:  # an agent failed: malformed answer, endpoint error, ...
        transcript.status, transcript.error = "error", one_line(exc)
    return items


async def run_team(
    agents: Sequence[tuple[Any, BuiltAgent]],
    output_types: Sequence[type[BaseModel]],
    task: str,
    max_turns: int,
    transcript: TeamTranscript,
    termination: TerminationCondition | None = None,
) -> list[tuple[str, BaseModel]]:
    """Run a round-robin group chat on `task`; return (speaker, structured answer) pairs in order;
    it ends after `max_turns` or when `termination` says so.
    Everything said is appended to `transcript`; an agent's error ends the chat and is noted there.
    A lone agent for one turn runs by itself: the transcript is the same (the task, then what
    the agent said), without a group chat's runtime, which about doubles a call's CPU
    (bench/call_overhead.py)."""
    runnable: Any
    if len(agents) == 1 and max_turns == 1:
        runnable = agents[0][0]
    else:
        runnable = RoundRobinGroupChat(
            [agent for agent, _ in agents],
            max_turns=max_turns,
            termination_condition=termination,
            custom_message_types=[StructuredMessage[t] for t in dict.fromkeys(output_types)],  # type: ignore[valid-type]
        )
    transcript.participants = [info.model_dump() for _, info in agents]
    items = await stream_into(runnable, task, transcript)
    outputs = [(item.source, item.content) for item in items if isinstance(item, StructuredMessage)]
    tokens = sum(m.prompt_tokens + m.completion_tokens for m in transcript.messages)
    logger.debug(
        "{} {} attempt {}: {} ({} tokens){}",
        transcript.flow, transcript.step, transcript.attempt, transcript.status, tokens,
        f": {transcript.error}" if transcript.error else "",
    )  # fmt: skip
    return outputs


def json_hint(model: type[BaseModel]) -> str:
    fields = ", ".join(f'"{name}": ...' for name in model.model_fields)
    return f"Answer with JSON only: {{{fields}}}"


def weighted_pick(rng: random.Random, personas: Sequence[Persona], k: int) -> list[Persona]:
    """Up to k distinct personas, drawn by weight; reproducible for a given rng state."""
    remaining = list(personas)
    chosen: list[Persona] = []
    while remaining and len(chosen) < k:
        pick = rng.choices(remaining, weights=[p.weight for p in remaining])[0]
        chosen.append(pick)
        remaining.remove(pick)
    return chosen
