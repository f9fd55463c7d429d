"""One team script per skill: `python -m teams.skills.<skill>`. A skill module holds only
what is truly particular to its skill (how a record's messages are shaped) and exposes it as
`SKILL`; the generic flows in teams.flows do the rest."""

from __future__ import annotations

import importlib
from typing import Protocol

from taxonomies import TaxonomyError, available_skills
from teams.schemas import AnswerOutput, Instruction, Message


class Skill(Protocol):
    """What the generic pipeline needs of a skill. A skill whose flows differ from the generic
    ones (tool use, say) also defines `async process_seed(env, seed, rng, run_id) -> SeedOutcome`,
    which the pipeline then calls instead of its own per-seed flow."""

    name: str

    def instruction_text(self, instruction: Instruction) -> str:
        """The instruction as the record's user turn shows it (kept in meta for deduplication)."""
        ...

    def messages(self, instruction: Instruction, answer: AnswerOutput) -> list[Message]:
        """The record's chat turns for one answered instruction."""
        ...


def get_skill(name: str) -> Skill:
    """The skill registered under `name` (its module in this package, its taxonomy in taxonomies/)."""
    if name not in available_skills():
        raise TaxonomyError(f"unknown skill '{name}' (known: {', '.join(available_skills())})")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise TaxonomyError(f"skill '{name}' has a taxonomy but no team script teams/skills/{name}.py") from None
    skill: Skill = module.SKILL
    return skill
