"""`agentinstruct skills list|show`: the skills data can be generated for, and their taxonomies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from agents.personas import PersonaLibrary
from taxonomies import available_skills, load_taxonomy
from teams.cli.common import guarded, out_console
from teams.engine.mixing import resolve_skill
from teams.flows.skill import ROLES

skills_app = typer.Typer(help="The skills data can be generated for, and their taxonomies.", no_args_is_help=True)


def _skill_row(library: PersonaLibrary, skill: str) -> dict[str, Any]:
    taxonomy = load_taxonomy(skill)
    return {
        "skill": skill,
        "subcategories": len(taxonomy.subcategories),
        "transformations": len(taxonomy.transformations),
        # what a run of the skill may draw, `"*"` personas included, as `personas list --skill` lists them
        "personas": len(library.serving(skill)),
        "personas_by_role": {role: len(library.pool(role, skill)) for role in ROLES},
        "description": taxonomy.description,
    }


@skills_app.command("list")
def skills_list(
    personas: Annotated[
        list[Path] | None, typer.Option("--personas", help="Extra persona folder (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every skill (one per taxonomies/*.yaml): its subcategories, transformations and personas."""
    library = guarded(lambda: PersonaLibrary.load(personas or []))
    rows = guarded(lambda: [_skill_row(library, skill) for skill in available_skills()])
    if as_json:
        out_console.print_json(json.dumps(rows))
        return
    table = Table("skill", "subcategories", "transformations", "personas")
    for row in rows:
        table.add_row(row["skill"], str(row["subcategories"]), str(row["transformations"]), str(row["personas"]))
    table.add_section()
    table.add_row(
        f"{len(rows)} skills",
        str(sum(r["subcategories"] for r in rows)),
        str(sum(r["transformations"] for r in rows)),
        str(sum(r["personas"] for r in rows)),
    )
    out_console.print(table)


@skills_app.command("show")
def skills_show(
    skill: Annotated[str, typer.Argument(help="A skill, by name, initials (rc, rag) or unique prefix.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A skill's taxonomy: transformations, subcategories with their answer formats, refinement goals."""
    taxonomy = guarded(lambda: load_taxonomy(resolve_skill(skill)))
    if as_json:
        out_console.print_json(taxonomy.model_dump_json())
        return
    out_console.print(f"[bold]{taxonomy.skill}[/]: {escape(taxonomy.description)}")
    if taxonomy.transformations:
        table = Table("transformation", "description", title="transformations")
        for t in taxonomy.transformations:
            table.add_row(t.name, escape(t.description))
        out_console.print(table)
    else:
        out_console.print("no transformation step: seeds go to the specialists as they are")
    table = Table("subcategory", "answer format", "suits", "description", title="subcategories")
    for sub in taxonomy.subcategories:
        suits = "all" if "*" in sub.suits else ", ".join(sub.suits)
        table.add_row(sub.name, sub.answer_format, suits, escape(sub.description))
    out_console.print(table)
    table = Table("refinement goal", "description", title="refinement goals")
    for goal in taxonomy.refinement_goals:
        table.add_row(goal.name, escape(goal.description))
    out_console.print(table)
