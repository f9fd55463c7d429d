"""Taxonomies are data: one YAML file per skill naming its transformations, its subcategories
(instruction types, each with an answer format and the transformations it suits), its
refinement goals and how its records read. This module only reads and validates them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

TAXONOMY_DIR = Path(__file__).parent

AnswerFormat = Literal[
    "short_answer",
    "list",
    "true_false",
    "essay",
    "fill_in_the_blank",
    "matching",
    "ordering",
    "multiple_choice",
    "numeric",
    # formats of the other skills (see teams/flows/checks/ for what each must hold)
    "label",  # one label from the label set the instruction gives (options hold the labels)
    "json",  # a JSON object with the keys the instruction names (options hold the keys)
    "code",  # an answer with code in a fenced block that parses
    "estimate",  # an order-of-magnitude estimate with stated assumptions
    "actions",  # browser actions, one per line, on elements of the page
    "grounded",  # an answer citing the retrieved passages it rests on
    "few_shot",  # a query after worked examples (options hold the examples)
    "conversation",  # a first question and follow-up turns (follow_ups)
    "rewrite",  # the text, modified as asked
    "prose",  # text written from structured data
    "creative",  # an original piece of writing
    "tool_calls",  # tool use: a conversation with calls in the OpenAI format
]


class TaxonomyError(ValueError):
    """A skill that does not exist or a taxonomy file that cannot be used."""


class Named(BaseModel):
    """An entry of a taxonomy: a snake_case name and what it means."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)


class Transformation(Named):
    """A form the content-transformation flow may rewrite a seed into."""


class RefinementGoal(Named):
    """What a Suggester/Editor round aims at."""


class Subcategory(Named):
    """One instruction type (for reading comprehension: a question type)."""

    answer_format: AnswerFormat
    # Transformations this type suits; ["*"] means every one.
    suits: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    def suits_transformation(self, transformation: str) -> bool:
        return "*" in self.suits or transformation in self.suits


class RecordFormat(BaseModel):
    """How a document skill's record reads: the user turn (a Jinja2 template of `passage`, the
    transformed seed, and `instruction`, the question as the teacher read it) and the style of
    the assistant's reply."""

    model_config = ConfigDict(extra="forbid")

    user_turn: str = Field(min_length=1)
    # labelled: the reasoning, then "Final answer: X" (short answers); explained: the reasoning,
    # then the answer itself (code, estimates); answer_only: the answer alone (rewrites, stories, JSON)
    reply: Literal["labelled", "explained", "answer_only"] = "labelled"


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    skill: str
    description: str = Field(min_length=1)
    transformations: list[Transformation] = Field(default_factory=list)
    subcategories: list[Subcategory] = Field(min_length=1)
    refinement_goals: list[RefinementGoal] = Field(default_factory=list)
    # How many of the goals each pair is refined toward, unless the run says otherwise: all of
    # them (reading comprehension, as the method has it) or a number, taken in turn across pairs.
    goals_per_instruction: Literal["all"] | Annotated[int, Field(ge=1)] = 1
    # At most this many specialists per seed, whatever the run's settings (text modification: one
    # task agent per seed, as the method has it). None: the run's settings decide.
    max_specialists: int | None = Field(None, ge=1)
    # What the skill's seeds are: documents (.txt/.md) or source code (tool use). Only skills of
    # one kind of seed can share a run.
    seeds: Literal["text", "code"] = "text"
    # How a record of a document skill reads; None for a skill that shapes its records in code (tool use).
    record: RecordFormat | None = None

    @property
    def transforms(self) -> bool:
        """False for a skill with no content-transformation step: its seeds go to the specialists as they are."""
        return bool(self.transformations)

    @model_validator(mode="after")
    def _names_are_known(self) -> Taxonomy:
        known = {t.name for t in self.transformations}
        for names, kind in (
            ([s.name for s in self.subcategories], "subcategory"),
            ([t.name for t in self.transformations], "transformation"),
            ([g.name for g in self.refinement_goals], "refinement goal"),
        ):
            duplicates = {n for n in names if names.count(n) > 1}
            if duplicates:
                raise ValueError(f"duplicate {kind} names: {sorted(duplicates)}")
        for sub in self.subcategories:
            unknown = [t for t in sub.suits if t != "*" and t not in known]
            if unknown:
                raise ValueError(f"subcategory '{sub.name}' suits unknown transformations {unknown}")
        return self

    def subcategory(self, name: str) -> Subcategory:
        for sub in self.subcategories:
            if sub.name == name:
                return sub
        raise TaxonomyError(f"skill '{self.skill}' has no subcategory '{name}'")

    def goal(self, name: str) -> RefinementGoal:
        for goal in self.refinement_goals:
            if goal.name == name:
                return goal
        raise TaxonomyError(f"skill '{self.skill}' has no refinement goal '{name}'")


def available_skills() -> list[str]:
    return sorted(p.stem for p in TAXONOMY_DIR.glob("*.yaml"))


@cache
def load_taxonomy(skill: str) -> Taxonomy:
    path = TAXONOMY_DIR / f"{skill}.yaml"
    if not path.is_file():
        raise TaxonomyError(f"unknown skill '{skill}' (known: {', '.join(available_skills()) or 'none'})")
    try:
        taxonomy = Taxonomy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TaxonomyError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if taxonomy.skill != skill:
        raise TaxonomyError(f"{path}: declares skill '{taxonomy.skill}', expected '{skill}'")
    return taxonomy
