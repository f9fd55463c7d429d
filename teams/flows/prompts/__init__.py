"""The step prompts: what each flow's team is told, as YAML data beside this module (one file per
step; tool use keeps its own beside its flows), rendered with StrictUndefined like the personas,
so a variable that a template names but its step does not give fails loudly.

A prompt file is `version: 1` and `prompts:`, a mapping of names to Jinja2 templates. What is
computed (a JSON hint from a schema, an instruction as the teacher reads it) is passed in; the
wording is here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PROMPTS_DIR = Path(__file__).parent
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class PromptError(ValueError):
    """A prompt file that cannot be used, or a template given too little to render."""


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    prompts: dict[str, str]


class Prompts:
    """The named templates of one prompt file, compiled on first use."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def of_step(cls, step: str) -> Prompts:
        """The prompts of one of the method's steps (`transform`, `instruct`, `refine`, ...)."""
        return cls(PROMPTS_DIR / f"{step}.yaml")

    def render(self, name: str, **context: Any) -> str:
        template = _templates(self.path).get(name)
        if template is None:
            raise PromptError(f"{self.path}: no prompt '{name}'")
        try:
            return template.render(**context)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{self.path}: prompts.{name}: {exc.message}") from exc


def render_template(text: str, **context: Any) -> str:
    """A template given as text (a taxonomy's record format), compiled once."""
    try:
        return _compiled(text).render(**context)
    except jinja2.UndefinedError as exc:
        raise PromptError(f"template {text[:40]!r}...: {exc.message}") from exc


@cache
def _compiled(text: str) -> jinja2.Template:
    return _JINJA.from_string(text)


@cache
def _templates(path: Path) -> dict[str, jinja2.Template]:
    try:
        data = PromptFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        return {name: _JINJA.from_string(text) for name, text in data.prompts.items()}
    except (OSError, yaml.YAMLError, ValidationError, jinja2.TemplateSyntaxError) as exc:
        raise PromptError(f"{path}: {exc}") from None


__all__ = ["PROMPTS_DIR", "PromptError", "PromptFile", "Prompts", "render_template"]
