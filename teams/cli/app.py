"""The `agentinstruct` command: its groups and commands, each in its own module (run, runs,
skills, personas, index, export), and a skill's team script (`run` with the skill fixed). Bad
input ends with one line on stderr naming the problem and exit code 2, never a traceback."""

from __future__ import annotations

import functools
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from teams.cli.common import fail
from teams.cli.export import export_command
from teams.cli.index import index_app
from teams.cli.models import models_app
from teams.cli.personas import personas_app
from teams.cli.run import run_command
from teams.cli.runs import runs_app
from teams.cli.skills import skills_app


def _empty_option(top: TyperGroup | TyperCommand, args: list[str]) -> str | None:
    """The first option of the command `args` name given an empty value (`--seeds ''`, `--out=`:
    often an unset shell variable). A path option would take it for the current folder
    (Path('') is '.': `--seeds ''` read whatever was there, `--out ''` wrote there), and no
    option of any command means anything by it, so every one is refused here, in one place."""
    command: Any = top
    for arg in args:  # down to the (sub)command the arguments name
        if arg not in getattr(command, "commands", {}):
            break
        command = command.commands[arg]
    takes_value = {o for p in command.params if isinstance(p, TyperOption) and not p.is_flag for o in p.opts}
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, equals, value = arg.partition("=")
        if name not in takes_value:
            continue
        if not equals:
            if i + 1 == len(args):
                break  # no value at all: the parser says so
            value = args[i + 1]
        if not value.strip():
            return name
    return None


def _checked_args(top: TyperGroup | TyperCommand, args: list[str]) -> list[str]:
    """`--ray` takes an optional address (Typer options cannot): alone, it means a local Ray.
    Every command's options are checked for empty values here, before any command runs."""
    args = [
        "--ray=local" if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")) else arg
        for i, arg in enumerate(args)
    ]
    if (name := _empty_option(top, args)) is not None:
        fail(f"{name} is empty")
    return args


class _Commands(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _checked_args(self, args))


class _TeamScript(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _checked_args(self, args))


app = typer.Typer(
    help="Turn raw documents into instruction-tuning data with teams of AutoGen agents.",
    no_args_is_help=True,
    cls=_Commands,
)
app.command(
    "run",
    help="Generate data for a skill (or several: --skills) from seeds: three agent teams per seed, then a teacher.",
)(run_command)
app.command("export")(export_command)
app.add_typer(runs_app, name="runs")
app.add_typer(personas_app, name="personas")
app.add_typer(skills_app, name="skills")
app.add_typer(index_app, name="index")
app.add_typer(models_app, name="models")


# `run`'s parameters that choose the skill: a team script has its own
SKILL_CHOOSERS = ("skill", "skills")


def team_script(skill: str) -> TyperCommand:
    """`run` with the skill fixed: `run`'s own options, taken from it so the two never drift,
    less the two that choose a skill, which the script could only refuse."""
    group: Any = typer.main.get_command(app)
    run = group.commands["run"]
    return _TeamScript(
        name=f"python -m teams.skills.{skill}",
        params=[p for p in run.params if p.name not in SKILL_CHOOSERS],
        callback=functools.partial(run.callback, skill=skill, skills=None),
        help=f"Generate {skill} data from seeds, as `agentinstruct run {skill}` does: three agent teams per seed, then a teacher.",
        rich_markup_mode=run.rich_markup_mode,
    )


def run_app(skill: str | None = None) -> None:
    """The command; given a skill, that skill's team script (`python -m teams.skills.<skill>`).
    Run without Click's standalone mode so that a usage error (an unknown command or option, a
    value of the wrong type) is ours to print: one line, where Typer prints the usage, a hint and
    a boxed message."""
    try:
        if skill is None:
            code = app(standalone_mode=False)
        else:
            script = team_script(skill)
            code = script(prog_name=script.name, standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:  # Click's own Ctrl-C at a prompt, or end of input
        sys.exit(130)
    except typer.TyperException as exc:  # Click's errors (Typer vendors Click, privately, under this base)
        sys.exit(_show_usage_error(exc))
    sys.exit(code if isinstance(code, int) else 0)  # an exit code (typer.Exit), or a command's None


def _show_usage_error(exc: typer.TyperException) -> int:
    """Print a Click error the way the commands print theirs, `error: ...` on one line, with Click's
    hint to the command's --help; a group given no command shows its help, as before. Its exit code."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        if exc.format_message().strip():  # the help, unless Rich printed it already (it does, when made)
            typer.echo(exc.format_message(), err=True)
    else:
        message = " ".join(exc.format_message().split())  # Click's messages may span lines
        if ctx is not None:  # Click's own hint, on the same line
            message += f"{' ' if message.endswith(('.', '?', '!')) else '. '}Try '{ctx.command_path} --help' for help."
        typer.echo(f"error: {message}", err=True)
    return int(getattr(exc, "exit_code", 1))
