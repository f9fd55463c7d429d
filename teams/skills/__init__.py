"""The skills: one module per skill, each a team script (`python -m teams.skills.<skill>`), holding
only what is truly particular to its skill (its own checks, how its records are shaped) as `SKILL`;
the generic flows in teams.flows do the rest. Tool use, whose flows are its own, is a package.

    base.py      PromptSkill: what the document skills share (the generic flow, a one-turn record)
    script.py    the team scripts' shared main
    <skill>.py   one per skill of taxonomies/*.yaml;  tool_use/  the tool-use skill and its flows
"""

from __future__ import annotations

import importlib

from taxonomies import TaxonomyError, available_skills
from teams.flows.skill import Skill


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


__all__ = ["Skill", "get_skill"]
