"""`agentinstruct index build|query`: the code index that tool use searches for similar APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from retrieval.code_index import DEFAULT_INDEX_DIR, CodeIndex, CodeIndexError
from retrieval.embedding import EmbeddingError
from retrieval.seeds import SeedError
from teams.cli.common import fail
from teams.flows.errors import one_line

index_app = typer.Typer(
    help="Build and search the code index that tool use draws similar APIs from.", no_args_is_help=True
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True)
INDEX_ERRORS = (CodeIndexError, SeedError, EmbeddingError, OSError)

IndexOption = Annotated[
    Path, typer.Option("--index", help=f"The index folder (default {DEFAULT_INDEX_DIR} in the current folder).")
]


@index_app.command("build")
def index_build(
    seeds: Annotated[Path, typer.Option("--seeds", help="A code file or a folder of code files.")],
    index: IndexOption = DEFAULT_INDEX_DIR,
) -> None:
    """Embed every function, class and method under --seeds; unchanged files are not embedded again."""
    progress = Progress(
        TextColumn("[bold]embedding"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"), TimeElapsedColumn(),
        console=_err,
    )  # fmt: skip
    task = progress.add_task("embed", total=None)
    try:
        code_index = CodeIndex(index)
        with progress:
            stats = code_index.build(seeds, lambda done, total: progress.update(task, completed=done, total=total))
    except INDEX_ERRORS as exc:
        fail(one_line(exc))
    _out.print(
        f"{stats.files} files: {stats.embedded_files} embedded ({stats.chunks_embedded} chunks), "
        f"{stats.unchanged} unchanged, {stats.removed_files} removed; {stats.chunks_total} chunks in {escape(str(index))}"
    )


@index_app.command("query")
def index_query(
    text: Annotated[str, typer.Argument(help="What the code you look for does, or its name.")],
    k: Annotated[int, typer.Option("-k", help="How many results.", min=1, max=100)] = 5,
    index: IndexOption = DEFAULT_INDEX_DIR,
) -> None:
    """The code nearest in meaning to TEXT, nearest first, with file and line."""
    if not index.is_dir():
        fail(f"{index}: no code index here; build one with `agentinstruct index build --seeds DIR`")
    try:
        hits = CodeIndex(index).query(text, k)
    except INDEX_ERRORS as exc:
        fail(one_line(exc))
    if not hits:
        _out.print("the index is empty")
        return
    for hit in hits:
        _out.print(
            f"[bold]{escape(hit.location)}[/]  {hit.kind} [cyan]{escape(hit.name)}[/]  (distance {hit.distance:.3f})"
        )
        lines = hit.text.splitlines()
        for line in lines[:6]:
            _out.print(f"    {escape(line)}", highlight=False)
        if len(lines) > 6:
            _out.print(f"    ... ({len(lines) - 6} more lines, to line {hit.end_line})", style="dim")
