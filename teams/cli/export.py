"""`agentinstruct export`: a run's records in a format trainers read."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from teams.cli.common import guarded, open_run, out_console


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"
    sharegpt = "sharegpt"
    hf = "hf"

RunsOption = Annotated[Path, typer.Option("--runs", help="Folder that holds run folders.")]


def export_command(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl | parquet | sharegpt | hf (a datasets.DatasetDict on disk).")
    ] = ExportFormat.jsonl,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write (default: RUN/export/...): a file, or a folder to write the file into; a folder for hf and --split-by."),
    ] = None,
    split_by: Annotated[
        str | None, typer.Option("--split-by", help="One file or split per 'skill' (or 'subcategory').")
    ] = None,
    push_to_hub: Annotated[
        str | None, typer.Option("--push-to-hub", help="With --format hf: also push the DatasetDict to this Hub repo.")
    ] = None,
    license: Annotated[
        str | None,
        typer.Option("--license", help="The dataset's license on its card, a Hub license id (default: the run's config)."),
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="The data's language on its card (repeatable; default en).")
    ] = None,
    runs: RunsOption = Path("runs"),
) -> None:
    """Write a run's records in a format trainers read, with a dataset card (README.md) beside them;
    every row keeps `messages` (and `tools`)."""
    from teams.report.export import export_run

    folder = open_run(runs, run)
    target, counts, card = guarded(
        lambda: export_run(folder, fmt.value, out, split_by, push_to_hub, license=license, language=language)
    )
    splits = ", ".join(f"{name}: {count}" for name, count in counts.items())
    out_console.print(f"{sum(counts.values())} rows ({splits}) → {target}\ndataset card → {card}", soft_wrap=True, markup=False)
