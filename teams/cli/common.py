"""What every command shares: the consoles, the errors that are the user's (one line, never a
traceback), and the options several commands take."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from loguru import logger
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from agents.models.spec import ModelError
from agents.personas import PersonaError
from retrieval.code_index import CodeIndexError
from retrieval.embedding import EmbeddingError
from retrieval.seeds import SeedError
from taxonomies import TaxonomyError
from teams.engine.licenses import LicenseError
from teams.engine.quality import QualityError
from teams.flows.errors import one_line
from teams.report.export import ExportError
from teams.runfolder.folder import RunFolder, RunFolderError

# AutoGen logs every OpenAI response through model_dump(), and the openai SDK's parsed-message
# type makes pydantic warn about it once per call: noise on the user's terminal.
warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)

out_console = Console()
err_console = Console(stderr=True)
USER_ERRORS = (
    SeedError,
    PersonaError,
    TaxonomyError,
    ModelError,
    RunFolderError,
    ValidationError,
    OSError,
    QualityError,
    ExportError,
    CodeIndexError,
    EmbeddingError,
    LicenseError,
)

OutOption = Annotated[Path, typer.Option("--out", help="Folder that holds run folders.")]
PersonasOption = Annotated[list[Path] | None, typer.Option("--personas", help="Extra persona folder (repeatable).")]
JsonOption = Annotated[bool, typer.Option("--json")]


def fail(message: str, code: int = 2) -> NoReturn:
    """End a command with one red line on stderr and an exit code (2: bad input)."""
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(code)


def guarded(action: Callable[[], Any]) -> Any:
    """The action's result; a user error ends the command with its one line."""
    try:
        return action()
    except USER_ERRORS as exc:
        fail(one_line(exc))


def log_to_terminal(level: str) -> None:
    """Log lines on stderr as `LEVEL: message`, the CLI's own format, not loguru's default one,
    each on one line whatever the console's width."""
    logger.remove()
    logger.add(
        lambda m: err_console.print(Text(str(m).rstrip()), soft_wrap=True), level=level, format="{level}: {message}"
    )


def open_run(out: Path, run: str) -> RunFolder:
    """The run folder `run` under `out`, to read: what reading it warns of (lines it could not
    read) goes to stderr, one line each."""
    log_to_terminal("WARNING")
    folder: RunFolder = guarded(lambda: RunFolder.open(out, run))
    return folder
