"""Personas are data: one YAML file each, validated strictly, rendered with StrictUndefined.

A persona joins the pool for its role and skills just by being found in the library folder
(`agents/personas/`) or in a folder passed with `--personas`; no code names a persona.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agents.models.spec import Sampling
from taxonomies import available_skills

LIBRARY_DIR = Path(__file__).parent  # the YAML files live beside this module, a folder per skill

Role = Literal[
    "transformer", "instruction_writer", "suggester", "editor", "teacher", "judge",
    "transform_reviewer", "user_simulator",
    # tool use
    "api_extractor", "api_retriever", "library_reconstructor", "tool_simulator",
]  # fmt: skip
ModelRole = Role  # every role may have a model of its own
ANY_SKILL = "*"  # `skills: ["*"]`: a persona that serves every skill with no persona of its own role

_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=1024)
def _template(text: str) -> jinja2.Template:
    """Compiled once: every agent of every seed renders its persona's template."""
    return _JINJA.from_string(text)


@lru_cache(maxsize=4096)
def _rendered(text: str, context_json: str) -> str:
    """A template rendered once per context: a run builds the same agents (same persona, same
    question type or goal) for seed after seed, and rendering showed in profiles of a run."""
    return _template(text).render(**json.loads(context_json)).strip()


# What each role's system-message template may use. `personas check` renders every template
# with these sample values, so a typo in a variable name fails there, not mid-run.
TEMPLATE_SAMPLES: dict[str, dict[str, Any]] = {
    "transformer": {"skill": "reading_comprehension", "transformation": "debate"},
    "instruction_writer": {
        "skill": "reading_comprehension",
        "question_type": {
            "name": "strengthen",
            "description": "Which statement most strengthens the argument?",
            "answer_format": "multiple_choice",
        },
        "count": 2,
    },
    "suggester": {
        "skill": "reading_comprehension",
        "goal": {"name": "make_harder", "description": "Make the question harder."},
        "suggestions": 3,
    },
    "editor": {
        "skill": "reading_comprehension",
        "goal": {"name": "make_harder", "description": "Make the question harder."},
        "suggestions": 3,
    },
    "teacher": {"skill": "reading_comprehension"},
    "transform_reviewer": {"skill": "reading_comprehension", "transformation": "debate"},
    "user_simulator": {
        "skill": "conversation",
        "conversation_type": {"name": "deepening", "description": "Each follow-up asks why or how."},
        "ideas": ["Why is that?"],
    },
    "judge": {
        "skill": "reading_comprehension",
        "rubric": [{"name": "correctness", "description": "Is the answer right?"}],
    },
    # tool use
    "api_extractor": {"skill": "tool_use"},
    "api_retriever": {"skill": "tool_use"},
    "library_reconstructor": {"skill": "tool_use"},
    "tool_simulator": {"skill": "tool_use"},
}


class PersonaError(ValueError):
    """A persona file that cannot be used; the message names the file, the field and the problem."""


class Criterion(BaseModel):
    """One line of a judge's rubric: what is scored, and what a high score means."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    description: str = Field(min_length=1)


class Persona(BaseModel):
    """One agent persona, as written in its YAML file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    role: Role
    skills: list[str] = Field(min_length=1)
    description: str = Field(min_length=1)
    system_message: str = Field(min_length=1)
    sampling: Sampling = Field(default_factory=Sampling)
    model_role: ModelRole | None = None
    weight: float = Field(1.0, gt=0.0)
    # Transformers: the transformation this persona performs (e.g. "debate", "identity").
    transformation: str | None = None
    # Instruction writers: the question types (taxonomy subcategories) this persona writes.
    instruction_types: list[str] = Field(default_factory=list)
    # Judges: the rubric they score every record against, one 1-5 score per criterion.
    rubric: list[Criterion] = Field(default_factory=list)
    source: str = Field("", exclude=True, description="The file it was loaded from.")

    @field_validator("system_message")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        try:
            _JINJA.parse(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> Persona:
        if self.role == "transformer" and not self.transformation:
            raise ValueError("a transformer needs 'transformation'")
        if self.role == "instruction_writer" and not self.instruction_types:
            raise ValueError("an instruction_writer needs 'instruction_types'")
        if self.role == "judge" and not self.rubric:
            raise ValueError("a judge needs a 'rubric'")
        return self

    @property
    def uses_model_role(self) -> str:
        return self.model_role or self.role

    def render(self, **context: Any) -> str:
        """The system message for this persona; a variable the template names but the caller
        does not give raises PersonaError (StrictUndefined)."""
        try:
            try:
                key = json.dumps(context, sort_keys=True)
            except TypeError:  # not plain data: render it as it is, uncached
                return _template(self.system_message).render(**context).strip()
            return _rendered(self.system_message, key)
        except jinja2.UndefinedError as exc:
            raise PersonaError(f"{self.source or self.name}: system_message: {exc.message}") from exc


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(file)"
    return f"{field}: {first['msg']}"


def load_persona(path: Path) -> Persona:
    """Read and validate one persona file, or raise PersonaError naming file, field and problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PersonaError(f"{path}: not valid UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PersonaError(f"{path}: malformed YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{path}: expected a mapping of persona fields, got {type(data).__name__}")
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        raise PersonaError(f"{path}: {_describe(exc)}") from None
    # A skill the project does not have would leave the persona in no pool, silently: say so.
    known = available_skills()
    unknown = [s for s in persona.skills if s != ANY_SKILL and s not in known]
    if unknown:
        raise PersonaError(f"{path}: unknown skill '{unknown[0]}' (known: {', '.join(known)})")
    persona.source = str(path)
    return persona


class PersonaLibrary:
    """Every persona found in the built-in library and in extra folders, keyed by name."""

    def __init__(self, personas: Mapping[str, Persona]):
        self.by_name = dict(personas)

    @classmethod
    def scan(cls, extra_dirs: Iterable[Path] = (), include_builtin: bool = True) -> tuple[PersonaLibrary, list[str]]:
        """Load every persona that validates and list the problems of those that do not; a
        persona in a later folder replaces a built-in one of the same name."""
        folders = ([LIBRARY_DIR] if include_builtin else []) + [Path(d) for d in extra_dirs]
        found: dict[str, Persona] = {}
        problems: list[str] = []
        for folder in folders:
            if not folder.is_dir():
                why = "is not a folder" if folder.exists() else "persona folder does not exist"
                problems.append(f"{folder}: {why}")
                continue
            for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml")):
                try:
                    persona = load_persona(path)
                except PersonaError as exc:
                    problems.append(str(exc))
                    continue
                found[persona.name] = persona
        return cls(found), problems

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = (), include_builtin: bool = True) -> PersonaLibrary:
        """The library, or PersonaError naming the first file that does not validate."""
        library, problems = cls.scan(extra_dirs, include_builtin)
        if problems:
            raise PersonaError(problems[0])
        return library

    def get(self, name: str) -> Persona:
        try:
            return self.by_name[name]
        except KeyError:
            raise PersonaError(f"unknown persona '{name}'") from None

    def pool(self, role: str, skill: str) -> list[Persona]:
        """The personas of one role that serve one skill, in name order (stable for sampling);
        those written for every skill (`skills: ["*"]`) when the skill has none of its own."""
        of_role = sorted((p for p in self.by_name.values() if p.role == role), key=lambda p: p.name)
        return [p for p in of_role if skill in p.skills] or [p for p in of_role if ANY_SKILL in p.skills]

    def serving(self, skill: str) -> list[Persona]:
        """Every persona a run of one skill may draw (each role's `pool`), by role and name."""
        return [
            p for p in sorted(self.by_name.values(), key=lambda p: (p.role, p.name)) if p in self.pool(p.role, skill)
        ]

    def check(self, skills: Iterable[str] | None = None) -> list[str]:
        """Render every template with its role's sample context; return the problems found. With
        `skills`, only the personas a run of those skills may draw (theirs and `"*"`): a run checks
        them before it starts, so a bad template fails at once, not when the persona is drawn."""
        serving = None if skills is None else {*skills, ANY_SKILL}
        problems = []
        for persona in self.by_name.values():
            if serving is not None and serving.isdisjoint(persona.skills):
                continue
            try:
                sample = TEMPLATE_SAMPLES[persona.role]
                if persona.rubric:
                    sample = {**sample, "rubric": [c.model_dump() for c in persona.rubric]}
                persona.render(**sample)
            except PersonaError as exc:
                problems.append(str(exc))
        return problems
