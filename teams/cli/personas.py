"""`agentinstruct personas list|show|check`: the persona library, a persona's file, and every
file validated with every template rendered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agents.personas import PersonaLibrary
from teams.cli.common import PersonasOption, guarded, out_console
from teams.engine.mixing import resolve_skill

personas_app = typer.Typer(help="List, show and validate agent personas.", no_args_is_help=True)


@personas_app.command("list")
def personas_list(
    personas: PersonasOption = None,
    skill: Annotated[str | None, typer.Option("--skill")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every persona: name, role, skills, what it does. With --skill, those a run of it may draw:
    its role pools, with a `skills: ["*"]` persona where the skill has none of that role."""
    library = guarded(lambda: PersonaLibrary.load(personas or []))
    wanted = None if skill is None else guarded(lambda: resolve_skill(skill))  # as `skills show`: unknown is exit 2
    chosen = (
        sorted(library.by_name.values(), key=lambda p: (p.role, p.name)) if wanted is None else library.serving(wanted)
    )
    if as_json:
        out_console.print_json(json.dumps([p.model_dump() | {"source": p.source} for p in chosen]))
        return
    table = Table("name", "role", "skills", "serves", "source")
    for p in chosen:
        serves = p.transformation or ", ".join(p.instruction_types)
        table.add_row(p.name, p.role, ", ".join(p.skills), serves, escape(p.source))
    out_console.print(table)


@personas_app.command("show")
def personas_show(name: str, personas: PersonasOption = None) -> None:
    """A persona's file as it is, with where it came from."""
    library = guarded(lambda: PersonaLibrary.load(personas or []))
    persona = guarded(lambda: library.get(name))
    out_console.print(f"# {persona.source}")
    out_console.print(Text(Path(persona.source).read_text(encoding="utf-8")))


@personas_app.command("check")
def personas_check(personas: PersonasOption = None) -> None:
    """Validate every persona file and render every template; one line per problem."""
    library, problems = PersonaLibrary.scan(personas or [])
    problems += library.check()
    for problem in problems:
        typer.secho(f"error: {problem}", err=True, fg="red")
    if problems:
        raise typer.Exit(2)
    out_console.print(f"{len(library.by_name)} personas OK")
