"""The method's three flows, and the teacher: AutoGen group chats where several agents talk
(specialists, Suggester and Editor), a lone AutoGen agent where one does (transformer, teacher, judge).

Every team is built fresh for each attempt, every message it says goes into the seed's
transcript (failed attempts included), and a malformed answer is retried a bounded number
of times before the step is given up and recorded as a failure: one bad answer never
crashes a run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StructuredMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from agents.factory import BuiltAgent, build_agent
from agents.models import ModelPool
from agents.personas import Persona, PersonaLibrary
from retrieval.seeds import Seed
from taxonomies import RefinementGoal, Subcategory, Taxonomy
from teams.checks import check_answer, check_draft
from teams.errors import one_line
from teams.schemas import (
    AnswerOutput,
    EditOutput,
    Instruction,
    InstructionDraft,
    InstructionsOutput,
    SeedTranscript,
    SuggestionsOutput,
    TeamTranscript,
    TranscriptMessage,
    TransformOutput,
    answer_output_for,
    edit_output,
    instructions_output,
)

IDENTITY = "identity"
MIN_PASSAGE_CHARS = 40


class FlowSettings(BaseModel):
    """How much each flow does per seed."""

    model_config = ConfigDict(extra="forbid")

    specialists_per_seed: int = Field(2, ge=1, le=20)
    instructions_per_writer: int = Field(2, ge=1, le=5)
    refinement_rounds: int = Field(1, ge=0, le=5)
    max_attempts: int = Field(3, ge=1, le=10, description="tries per step: 1 + bounded retries")
    judge_threshold: float = Field(3.0, ge=0, le=5, description="mean judge score (1-5) a record needs; 0: no judge")


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
        skill_checks: Any = None,
        resources: dict[str, Any] | None = None,
    ):
        self.taxonomy = taxonomy
        self.library = library
        self.pool = pool
        self.settings = settings
        # The skill object (teams.skills): its optional check_draft(draft, subcategory) and
        # check_answer(instruction, answer) add to, or replace, the format checks.
        self.skill_checks = skill_checks
        self.resources = resources or {}  # what a skill's own flows share, e.g. tool use's code index

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
) -> list[tuple[str, BaseModel]]:
    """Run a round-robin group chat on `task`; return (speaker, structured answer) pairs in order.
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


def _json_hint(model: type[BaseModel]) -> str:
    fields = ", ".join(f'"{name}": ...' for name in model.model_fields)
    return f"Answer with JSON only: {{{fields}}}"


def format_question(question: str, options: Sequence[str]) -> str:
    lines = [question.strip()]
    if options:
        lines.append("")
        lines.extend(f"{chr(ord('A') + i)}) {option.strip()}" for i, option in enumerate(options))
    return "\n".join(lines)


def format_instruction(instruction: Instruction) -> str:
    """An instruction as the teacher and the refiners read it; each answer format that carries
    more than a question (labels, keys, worked examples, follow-up turns) shows it its own way."""
    render = INSTRUCTION_RENDERERS.get(instruction.answer_format)
    return render(instruction) if render else format_question(instruction.question, instruction.options)


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"{i}. {item.strip()}" for i, item in enumerate(items, start=1))


def render_few_shot(question: str, examples: Sequence[str]) -> str:
    shots = "\n\n".join(f"Example {i}:\n{e.strip()}" for i, e in enumerate(examples, start=1))
    return (
        f"Here are {len(examples)} worked examples.\n\n{shots}\n\nNow solve this one the same way:\n{question.strip()}"
    )


INSTRUCTION_RENDERERS: dict[str, Callable[[Instruction], str]] = {
    "label": lambda i: f"{i.question.strip()}\n\nLabels: {', '.join(o.strip() for o in i.options)}",
    "json": lambda i: (
        f"{i.question.strip()}\n\nReturn a JSON object with exactly these keys: "
        f"{', '.join(o.strip() for o in i.options)}"
    ),
    "few_shot": lambda i: render_few_shot(i.question, i.options),
    "conversation": lambda i: (
        f"{i.question.strip()}\n\nFollow-up questions the user asks next, in order "
        f"(answer each in follow_up_replies):\n{_numbered(i.follow_ups)}"
    ),
}


def weighted_pick(rng: random.Random, personas: Sequence[Persona], k: int) -> list[Persona]:
    """Up to k distinct personas, drawn by weight; reproducible for a given rng state."""
    remaining = list(personas)
    chosen: list[Persona] = []
    while remaining and len(chosen) < k:
        pick = rng.choices(remaining, weights=[p.weight for p in remaining])[0]
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


# --- 1. content transformation ---------------------------------------------------------------


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
    task = f"Rewrite this text as a {transformation.replace('_', ' ')}.\n\nText:\n{seed.text}\n\n{_json_hint(TransformOutput)}"
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


# --- 2. seed instruction generation ----------------------------------------------------------


def pick_specialists(env: FlowEnv, rng: random.Random, transformation: str) -> list[tuple[Persona, Subcategory]]:
    """The writers whose question types suit this transformation, drawn by weight, each with
    one of its suitable types."""
    suitable: dict[str, list[Subcategory]] = {}
    for writer in env.library.pool("instruction_writer", env.skill):
        types = [env.taxonomy.subcategory(t) for t in writer.instruction_types]
        fitting = [t for t in types if t.suits_transformation(transformation)]
        if fitting:
            suitable[writer.name] = fitting
    writers = [env.library.get(name) for name in suitable]
    limit = min(env.settings.specialists_per_seed, env.taxonomy.max_specialists or env.settings.specialists_per_seed)
    chosen = weighted_pick(rng, writers, limit)
    return [(writer, rng.choice(suitable[writer.name])) for writer in chosen]


async def generate_instructions(
    env: FlowEnv, log: SeedLog, passage: str, specialists: Sequence[tuple[Persona, Subcategory]]
) -> list[Instruction]:
    """Each specialist writes instructions of its type in one group chat; a specialist whose
    answer was unusable speaks again (alone with the others who also failed) next attempt."""
    count = env.settings.instructions_per_writer
    written: dict[str, list[Instruction]] = {}
    last_error: dict[str, str] = {}
    for attempt in range(1, env.settings.max_attempts + 1):
        remaining = [(p, sub) for p, sub in specialists if p.name not in written]
        if not remaining:
            break
        output_types = [instructions_output(sub.answer_format) for _, sub in remaining]
        agents = [
            build_agent(
                p, env.pool, output_type, {"skill": env.skill, "question_type": sub.model_dump(), "count": count}
            )
            for (p, sub), output_type in zip(remaining, output_types, strict=True)
        ]
        names = ", ".join(f"{p.name} ({sub.name})" for p, sub in remaining)
        task = (
            f"Passage:\n{passage}\n\nSpecialists taking turns: {names}. Each of you writes {count} "
            f"questions of your own type about this passage. {_json_hint(InstructionsOutput)}"
        )
        record = TeamTranscript(flow="instruction_generation", step="specialists", attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        outputs = dict(await run_team(agents, output_types, task, len(agents), record))
        for persona, sub in remaining:
            output = outputs.get(persona.name)
            if not isinstance(output, InstructionsOutput):
                last_error[persona.name] = record.error or "no answer"
                continue
            drafts = [d for d in output.instructions[:count] if not env.draft_problems(d, sub)]
            if not drafts:
                last_error[persona.name] = (
                    f"no usable {sub.answer_format} question: {env.draft_problems(output.instructions[0], sub)}"
                )
                record.status = "invalid"
                record.error = last_error[persona.name]
                continue
            written[persona.name] = [
                Instruction(
                    key=f"{sub.name}-{i}",
                    passage=passage,
                    question=d.question.strip(),
                    options=[o.strip() for o in d.options],
                    follow_ups=[str(f).strip() for f in getattr(d, "follow_ups", [])],
                    answer_key=d.answer.strip(),
                    subcategory=sub.name,
                    answer_format=sub.answer_format,
                    writer=persona.name,
                )
                for i, d in enumerate(drafts, start=1)
            ]
    for persona, sub in specialists:
        if persona.name not in written:
            log.fail("instruction_generation", f"{persona.name}:{sub.name}", last_error.get(persona.name, "failed"))
    return [instruction for persona, _ in specialists for instruction in written.get(persona.name, [])]


# --- 3. instruction refinement ---------------------------------------------------------------


def _refined(
    parent: Instruction, edit: EditOutput, goal: RefinementGoal, round_: int, speakers: list[str]
) -> Instruction:
    keep_question = goal.name == "make_unanswerable"  # that goal edits the passage, not the question
    options = parent.options if keep_question or not edit.options else [o.strip() for o in edit.options]
    follow_ups = [str(f).strip() for f in getattr(edit, "follow_ups", [])]
    return Instruction(
        key=f"{parent.key.split('.')[0]}.{goal.name}{round_}",
        passage=edit.passage.strip(),
        question=parent.question if keep_question else edit.question.strip(),
        options=options,
        follow_ups=parent.follow_ups if keep_question or not follow_ups else follow_ups,
        subcategory=parent.subcategory,
        answer_format=parent.answer_format,
        writer=parent.writer,
        refinement_goal=goal.name,
        refinement_round=round_,
        parent=parent.key,
        refined_by=speakers,
    )


async def refine(
    env: FlowEnv, log: SeedLog, instruction: Instruction, goal: RefinementGoal, suggester: Persona, editor: Persona
) -> list[Instruction]:
    """A Suggester/Editor group chat of `refinement_rounds` rounds toward one goal; each round's
    edit is a new pair, built on the previous round's."""
    rounds = env.settings.refinement_rounds
    if rounds == 0:
        return []
    context = {"skill": env.skill, "goal": goal.model_dump()}
    edit_type = edit_output(instruction.answer_format)
    task = (
        f"Passage:\n{instruction.passage}\n\nQuestion:\n{format_instruction(instruction)}\n\n"
        f"Refinement goal: {goal.name}: {goal.description}\nFor {rounds} round(s): {suggester.name} suggests "
        f"edits ({_json_hint(SuggestionsOutput)}), then {editor.name} rewrites the latest passage and question "
        f"accordingly ({_json_hint(edit_type)})."
    )
    best: list[Instruction] = []
    attempts = Attempts(env, log, "refinement", f"{instruction.key}:{goal.name}")
    for record in attempts:
        agents = [
            build_agent(suggester, env.pool, SuggestionsOutput, context),
            build_agent(editor, env.pool, edit_type, context),
        ]
        outputs = await run_team(agents, [SuggestionsOutput, edit_type], task, 2 * rounds, record)
        chain: list[Instruction] = []
        parent = instruction
        for _, output in outputs:
            if isinstance(output, EditOutput) and len(output.passage.strip()) >= MIN_PASSAGE_CHARS:
                parent = _refined(parent, output, goal, len(chain) + 1, [suggester.name, editor.name])
                chain.append(parent)
        if len(chain) > len(best):
            best = chain
        if len(best) == rounds:
            return best
        attempts.reject(f"{len(chain)} of {rounds} rounds gave a usable edit")
    attempts.give_up()
    return best


# --- the teacher -----------------------------------------------------------------------------


async def answer(
    env: FlowEnv, log: SeedLog, instruction: Instruction, teacher: Persona
) -> tuple[AnswerOutput, int] | None:
    """The teacher's answer that passes the checks, with the tokens it took; None if none did."""
    answer_type = answer_output_for(instruction)
    task = (
        f"Passage:\n{instruction.passage}\n\nQuestion:\n{format_instruction(instruction)}\n\n{_json_hint(answer_type)}"
    )
    problems = ["no answer"]
    for attempt in range(1, env.settings.max_attempts + 1):
        record = TeamTranscript(flow="answer", step=f"answer:{instruction.key}", attempt=attempt, participants=[])
        log.transcript.teams.append(record)
        agent = build_agent(teacher, env.pool, answer_type, {"skill": env.skill})
        outputs = await run_team([agent], [answer_type], task, 1, record)
        answers = [o for _, o in outputs if isinstance(o, AnswerOutput)]
        if not answers:
            problems = [record.error or "no answer"]
            continue
        problems = env.answer_problems(instruction, answers[0])
        if not problems:
            tokens = sum(m.prompt_tokens + m.completion_tokens for m in record.messages)
            return answers[0], tokens
        record.status, record.error = "invalid", "; ".join(problems)
    log.fail("answer", f"answer:{instruction.key}", "; ".join(problems))
    return None
