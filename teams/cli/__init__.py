"""The command line: thin commands that parse, call the engine or the reports, and print.

`main` is the `agentinstruct` console script. Importing the commands takes a few seconds
(AutoGen, torch, Chroma); Ctrl-C during that time exits quietly with 130, like Ctrl-C anywhere
else, not with a traceback. The Typer app itself is `teams.cli.app.app`.
"""

from __future__ import annotations


def main() -> None:
    try:
        from teams.cli.app import run_app
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    run_app()


__all__ = ["main"]
