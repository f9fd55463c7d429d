"""The pydantic types on the arrows of the flow:
seed -> transform -> instructions -> refine -> answer -> check -> record.

An Instruction is a (passage, question) pair with its Lineage; a Record is one training example
(one line of records.jsonl); the transcripts hold everything every team said. What agents
answer with is in teams.flows.outputs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Lineage(BaseModel):
    """Where a task of the flows came from: its key within the seed, who wrote it, and the
    refinement that made it (goal, round, the pair it was refined from, the suggestion it
    implements, who refined it)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(
        description="unique within the seed, e.g. 'strengthen-1' or 'strengthen-1.make_harder2-1' (round 2, suggestion 1)"
    )
    subcategory: str
    writer: str = Field(description="the persona that wrote the original instruction")
    refinement_goal: str | None = None
    refinement_round: int = 0
    parent: str | None = None
    refined_by: list[str] = Field(default_factory=list)
    suggestion: str | None = Field(None, description="the Suggester's suggestion this pair's edit implements")

    def refinement(self) -> dict[str, Any] | None:
        """What a record's meta says of the refinement that made it (None: not refined)."""
        if not self.refinement_goal:
            return None
        return {
            "goal": self.refinement_goal, "round": self.refinement_round, "parent": self.parent,
            "suggestion": self.suggestion, "by": list(self.refined_by),
        }  # fmt: skip


class Instruction(Lineage):
    """A (passage, question) pair ready for the teacher, with its lineage."""

    passage: str
    question: str
    options: list[str] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list, description="conversation: the user's later turns")
    answer_key: str = Field("", description="the writer's intended answer; refined pairs have none")
    answer_format: str


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    # Tool use only (left out of records when None): an assistant's calls in the OpenAI format
    # ({"id", "type": "function", "function": {"name", "arguments": JSON text}}), and on a tool
    # message the call it answers.
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class Record(BaseModel):
    """One line of records.jsonl: a training example with its lineage."""

    id: str
    skill: str
    subcategory: str
    messages: list[Message] = Field(min_length=2)
    tools: list[dict[str, Any]] | None = Field(None, description="tool use: the toolset in the OpenAI function format")
    meta: dict[str, Any]


class TranscriptMessage(BaseModel):
    source: str
    type: str
    content: Any
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TeamTranscript(BaseModel):
    """Everything one team said while handling one step of one seed."""

    flow: Literal["content_transformation", "instruction_generation", "refinement", "answer", "judge"]
    step: str = Field(description="what this team was for, e.g. 'transform' or 'answer strengthen-1'")
    attempt: int = 1
    participants: list[dict[str, str]] = Field(description="name, persona, model, system_message")
    messages: list[TranscriptMessage] = Field(default_factory=list)
    status: Literal["ok", "invalid", "error"] = "ok"
    error: str | None = None


class SeedTranscript(BaseModel):
    seed_id: str
    source: str
    teams: list[TeamTranscript] = Field(default_factory=list)
