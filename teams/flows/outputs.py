"""What agents must answer with (structured output): the `*Output` models, and the same narrowed
per answer format, so that a constrained decoder enforces what the checks would reject after
the fact. What the flows pass on and write is in teams.flows.types.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from teams.flows.types import Instruction

# --- what agents answer with -----------------------------------------------------------------

# A bound on short fields lets a constrained decoder end them instead of rambling to max_tokens.
# Long fields stay unbounded: llama.cpp cannot build grammars for long bounded strings.
SHORT_MAX = 300
Short = Annotated[str, Field(min_length=1, max_length=SHORT_MAX)]


class TransformOutput(BaseModel):
    """A transformer's rewrite of the seed."""

    passage: str = Field(min_length=1)


class ReviewOutput(BaseModel):
    """A transformation reviewer's verdict: what to fix (facts lost, changed or added), then
    whether the rewrite may go on as it is."""

    fixes: list[Short] = Field(default_factory=list, max_length=5)
    approved: bool


class UserTurnOutput(BaseModel):
    """A user simulator's next message, written after reading the assistant's last answer:
    `refers_to` copies the words of an earlier answer the message picks up; `done` says the
    user's need is met (the message is then a closing line, and the chat ends without it)."""

    message: Short
    refers_to: Short
    done: bool


class InstructionDraft(BaseModel):
    question: str = Field(min_length=1)
    options: list[Short] = Field(default_factory=list, max_length=6)
    answer: str = Field("", description="the writer's intended answer (a key, not shown to the teacher)")


class InstructionsOutput(BaseModel):
    """An instruction writer's questions of its type about the passage."""

    instructions: list[InstructionDraft] = Field(min_length=1, max_length=5)


class SuggestionsOutput(BaseModel):
    """A suggester's proposals for one refinement goal."""

    suggestions: list[Short] = Field(min_length=1, max_length=5)


class EditsOutput(BaseModel):
    """An editor's answer to a round of suggestions: one new pair per suggestion, in order."""

    edits: list[Any] = Field(min_length=1)


class EditOutput(BaseModel):
    """An editor's new passage/question pair, made per the suggestions."""

    passage: str = Field(min_length=1)
    question: str = Field(min_length=1)
    options: list[Short] = Field(default_factory=list, max_length=6)


class AnswerOutput(BaseModel):
    """The teacher's answer: its reasoning, then the final answer the checks read."""

    explanation: str
    final_answer: str = Field(min_length=1)


class ConversationTurn(BaseModel):
    """One user turn of a conversation and the assistant's reply to it."""

    user: str
    refers_to: str = Field("", description="what of an earlier answer it picks up (empty for the first turn)")
    reply: AnswerOutput


class ConversationAnswer(AnswerOutput):
    """A whole conversation, turn by turn; its own fields are the first reply's (what the checks
    of the first question read)."""

    turns: list[ConversationTurn] = Field(min_length=1)


# --- the same, narrowed per answer format ----------------------------------------------------
# A constrained decoder (llama.cpp's grammar, vLLM's guided decoding) then enforces what the
# checks would otherwise reject after the fact: four options, an option letter, True or False.

UNANSWERABLE_ANSWER = "The passage does not give enough information to answer."
OPTION_COUNTS = {
    "multiple_choice": (4, 4),
    "matching": (3, 6),
    "ordering": (3, 6),
    "label": (2, 6),  # the label set
    "json": (1, 8),  # the keys to extract
    "few_shot": (2, 5),  # the worked examples
}
FOLLOW_UPS = (2, 4)  # conversation: the writer's planned follow-ups, ideas the user simulator may take up


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _options_field(answer_format: str) -> Any:
    """Required where the format needs options: a default is not validated, and a constrained
    decoder may leave out any field that is not required."""
    low, high = OPTION_COUNTS.get(answer_format, (0, 0))
    if low:
        return (list[Short], Field(min_length=low, max_length=high))
    return (list[Short], Field(default_factory=list, max_length=0))


def _turn_fields(answer_format: str) -> dict[str, Any]:
    """A conversation's follow-up user turns, required in its schemas; no other format has them."""
    if answer_format == "conversation":
        return {"follow_ups": (list[Short], Field(min_length=FOLLOW_UPS[0], max_length=FOLLOW_UPS[1]))}
    return {}


@cache
def instructions_output(answer_format: str) -> type[InstructionsOutput]:
    """A writer's schema for one answer format (option counts fixed by the format)."""
    draft = create_model(
        f"{_camel(answer_format)}Draft",
        __base__=InstructionDraft,
        options=_options_field(answer_format),
        **_turn_fields(answer_format),
    )
    return create_model(
        f"{_camel(answer_format)}Instructions",
        __base__=InstructionsOutput,
        instructions=(list[draft], Field(min_length=1, max_length=5)),
    )


@cache
def edit_output(answer_format: str) -> type[EditOutput]:
    """An editor's schema for a question of one answer format."""
    return create_model(
        f"{_camel(answer_format)}Edit",
        __base__=EditOutput,
        options=_options_field(answer_format),
        **_turn_fields(answer_format),
    )


@cache
def suggestions_output(count: int) -> type[SuggestionsOutput]:
    """A suggester's schema: exactly `count` suggestions (the run's `suggestions_per_round`)."""
    return create_model(
        f"Suggestions{count}",
        __base__=SuggestionsOutput,
        suggestions=(list[Short], Field(min_length=count, max_length=count)),
    )


@cache
def edits_output(edit_type: type[BaseModel], count: int) -> type[EditsOutput]:
    """An editor's schema for a round: `count` edits of `edit_type`, the i-th implementing suggestion i."""
    return create_model(
        f"{edit_type.__name__}s{count}",
        __base__=EditsOutput,
        edits=(list[edit_type], Field(min_length=count, max_length=count)),  # type: ignore[valid-type]
    )


@cache
def answer_output(answer_format: str, n_options: int) -> type[AnswerOutput]:
    """The teacher's schema: a closed set of final answers where the format has one. Declining
    is always among them; the checks decide whether declining was right."""
    if answer_format == "multiple_choice" and n_options:
        choices = [chr(ord("A") + i) for i in range(n_options)]
    elif answer_format == "true_false":
        choices = ["True", "False"]
    else:
        return AnswerOutput
    final: Any = Literal[tuple([*choices, UNANSWERABLE_ANSWER])]
    return create_model(f"{_camel(answer_format)}Answer{n_options}", __base__=AnswerOutput, final_answer=(final, ...))


@cache
def label_answer_output(labels: tuple[str, ...]) -> type[AnswerOutput]:
    """The teacher's schema for a classification: the final answer is one of the instruction's labels."""
    final: Any = Literal[tuple(dict.fromkeys([*labels, UNANSWERABLE_ANSWER]))]
    return create_model("LabelAnswer", __base__=AnswerOutput, final_answer=(final, ...))


def answer_output_for(instruction: Instruction) -> type[AnswerOutput]:
    """The teacher's schema for one instruction (labels come from the instruction)."""
    if instruction.answer_format == "label" and instruction.options:
        return label_answer_output(tuple(instruction.options))
    return answer_output(instruction.answer_format, len(instruction.options))
