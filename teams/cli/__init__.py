"""The command line: thin commands that parse, call the engine or the reports, and print.

`main` is the `agentinstruct` console script. Importing the commands takes a few seconds
(AutoGen, torch, Chroma); Ctrl-C during that time exits quietly with 130, like Ctrl-C anywhere
else, not with a traceback. The Typer app itself is `teams.cli.app.app`.
"""

from __future__ import annotations


def main(skill: str | None = None) -> None:
    """The command; given a skill, that skill's team script (teams.skills.script)."""
    try:
        from teams.cli.app import run_app
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    run_app(skill)


__all__ = ["main"]
