"""The `agentinstruct` console script. Importing the CLI takes a few seconds (AutoGen, torch, Chroma);
Ctrl-C during that time exits quietly with 130, like Ctrl-C anywhere else, not with a traceback."""

from __future__ import annotations


def main() -> None:
    try:
        from teams.cli import main as cli_main
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    cli_main()
