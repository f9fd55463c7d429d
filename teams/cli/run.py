"""`agentinstruct run`: a skill's teams over a folder of seeds, with a progress bar; the same command
behind every skill's team script (`python -m teams.skills.<skill>`).

Exit codes: 0 completed, 3 completed with some seeds failed, 1 no seed succeeded, 2 bad input,
4 stopped by --max-cost/--max-tokens, 5 stopped because an endpoint stayed unreachable, 130 stopped by
Ctrl-C (what was done is kept).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from taxonomies import TaxonomyError
from teams.cli.common import USER_ERRORS, err_console, fail, guarded, log_to_terminal, out_console
from teams.engine.config import RunConfig, build_config, resume_config
from teams.engine.loop import SeedProcessor, run_pipeline
from teams.engine.mixing import MIXED, parse_skills, resolve_skill
from teams.engine.prepare import PreparedRun
from teams.flows.errors import one_line
from teams.runfolder.folder import SeedOutcome
from teams.runfolder.info import RunInfo

EXIT_BY_STATUS = {"completed": 0, "completed_with_failures": 3, "failed": 1, "stopped": 130, "budget_reached": 4,
                  "endpoint_down": 5}  # fmt: skip


def choose_processor(run: PreparedRun, ray: str | None) -> SeedProcessor | None:
    """Where the seeds run: Ray (`--ray [ADDRESS]`), worker processes here (`--workers N`), or this
    process (None)."""
    if ray is not None:
        from teams.engine.ray_runner import RayProcessor

        return RayProcessor(run, None if ray == "local" else ray)
    if run.config.workers > 1:
        from teams.engine.workers import LocalWorkers

        return LocalWorkers(run, run.config.workers)
    return None


def dry_run_estimate(info: RunInfo, before: int) -> str:
    """Per-seed averages of the sample, times every seed of the run."""
    t = info.totals
    sampled = t.seeds_done + t.seeds_failed - before
    if sampled <= 0:
        return "dry run: no seed was left to sample"
    scale = t.seeds / sampled
    calls = t.calls + t.cached_calls
    cost = t.cost_usd or 0.0
    out = str(info.config.get("out"))  # absolute, as run.json keeps paths: no --out if it is runs/ here
    return (
        f"dry run: {sampled} seed{'' if sampled == 1 else 's'} took {calls:,} model calls, {t.model_tokens:,} tokens, ${cost:.4f} "
        f"and gave {t.records} records; for all {t.seeds} seeds expect about {calls * scale:,.0f} calls, "
        f"{t.model_tokens * scale:,.0f} tokens, ${cost * scale:.2f} and {t.records * scale:,.0f} records.\n"
        f"carry on (the sample is kept and not paid again): agentinstruct run --resume {info.run_id}"
        f"{'' if Path(out).absolute() == Path('runs').absolute() else ' --out ' + out}"
    )


class _ShrinkingText(TextColumn):
    """Text cut short (…) when the line is narrow: Rich narrows only the columns that may wrap, so
    this column may, and its text never does."""

    def __init__(self, text_format: str) -> None:
        super().__init__(text_format, table_column=Column(no_wrap=False))

    def render(self, task: Task) -> Text:
        text = super().render(task)
        text.no_wrap, text.overflow = True, "ellipsis"
        return text


def progress_display(console: Console) -> Progress:
    """The run's one progress line. At 80 columns Rich used to narrow the seed counter, the bar and
    the time to nothing (the columns that could wrap) and keep the totals whole; now the counter
    and the time never narrow, the skill's name and the totals are cut short instead, and the bar
    takes what is left, at least 10 columns (so the line spans the terminal)."""
    fixed = Column(no_wrap=True)
    columns = [
        _ShrinkingText("[bold]{task.description}"),
        BarColumn(bar_width=None, table_column=Column(no_wrap=True, ratio=1, width=10)),
        MofNCompleteColumn(table_column=fixed),
        _ShrinkingText(
            "seeds • {task.fields[records]} records • {task.fields[failed]} failed • {task.fields[tokens]:,} tokens"
            " • ${task.fields[cost]:.4f}"
        ),
        TimeElapsedColumn(table_column=fixed),
    ]
    return Progress(*columns, console=console, transient=False, expand=True)


def execute_run(
    config: RunConfig, *, resume: bool = False, dry_run: bool = False, sample: int = 3, ray: str | None = None,
    retry_failed: bool = False,
) -> None:
    """Validate, then run with a progress bar; print the summary; exit with the run's status code."""
    if ray is not None and config.workers > 1:
        fail("--ray and --workers do not go together: Ray runs one worker per CPU of its cluster")
    log_to_terminal("INFO")  # reading the seeds warns of skipped ones; a resume says what it repaired
    prepared = guarded(lambda: PreparedRun(config, resume=resume, retry_failed=retry_failed))
    processor = guarded(lambda: choose_processor(prepared, ray))
    log_to_terminal("WARNING")
    progress = progress_display(err_console)
    task_id = progress.add_task(config.skill, start=False, total=None, records=0, failed=0, tokens=0, cost=0.0)

    def on_start(info: RunInfo) -> None:
        err_console.print(
            f"run [bold]{info.run_id}[/] → {escape(str(config.out / info.run_id))}  (model: {info.models['teacher']})"
        )
        t = info.totals
        progress.update(
            task_id, total=t.seeds, completed=t.seeds_done + t.seeds_failed, records=t.records,
            failed=t.seeds_failed, tokens=t.model_tokens, cost=t.cost_usd or 0.0,
        )  # fmt: skip
        progress.start_task(task_id)

    def on_seed(outcome: SeedOutcome, info: RunInfo) -> None:
        t = info.totals
        progress.update(
            task_id, completed=t.seeds_done + t.seeds_failed, records=t.records, failed=t.seeds_failed,
            tokens=t.model_tokens, cost=t.cost_usd or 0.0,
        )  # fmt: skip

    try:
        with progress:
            folder, info = asyncio.run(
                run_pipeline(
                    prepared, on_seed=on_seed, on_start=on_start, sample=sample if dry_run else None,
                    processor=processor,
                )  # fmt: skip
            )
    except KeyboardInterrupt:
        err_console.print("stopped: what was done is kept in the run folder")
        raise typer.Exit(130) from None
    except USER_ERRORS as exc:
        fail(one_line(exc))
    t = info.totals
    summary = (
        f"{info.status}: {t.seeds_done} seeds done, {t.seeds_failed} failed, {t.records} records, "
        f"{t.calls:,} model calls ({t.cached_calls:,} from the cache), {t.model_tokens:,} tokens"
        f"{'' if t.cost_usd is None else f', ${t.cost_usd:.4f}'}"
        f" → {folder.path}"
    )
    if t.dropped:
        summary += "\ndropped: " + ", ".join(
            f"{count} {why.replace('_', ' ')}" for why, count in sorted(t.dropped.items())
        )
    out_console.print(summary, soft_wrap=True)
    if dry_run:
        out_console.print(dry_run_estimate(info, before=len(prepared.committed)), soft_wrap=True)
        raise typer.Exit(0)
    if info.status == "endpoint_down":
        fail(info.stop_reason or "an endpoint is unreachable", code=EXIT_BY_STATUS["endpoint_down"])
    if info.stop_reason and info.status != "stopped":
        err_console.print(f"stopped: {info.stop_reason}; carry on with: agentinstruct run --resume {info.run_id}")
    if info.status == "failed":
        first = next((s["reason"] for s in folder.seeds() if s.get("reason")), "unknown")
        fail(f"no seed produced a record; first reason: {first}", code=1)
    raise typer.Exit(EXIT_BY_STATUS[info.status])


def chosen_skills(skill: str | None, skills: str | None) -> tuple[str, dict[str, float]]:
    """The run's skill (or 'mixed') and, for a mixed run, its skills with their weights."""
    if skill and skills:
        raise TaxonomyError("give a skill or --skills, not both")
    if skills:
        weights = parse_skills(skills)
        return (MIXED, weights) if len(weights) > 1 else (next(iter(weights)), {})
    if not skill:
        raise TaxonomyError("name a skill (see `agentinstruct skills list`) or give --skills")
    return resolve_skill(skill), {}


def run_command(
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="A file or folder: .txt/.md, .pdf/.html/.docx/.pptx, .jsonl/.json/.csv/.parquet, a save_to_disk "
            "folder (tool_use: code files, or code rows); or a Hugging Face dataset, hf:NAME with :CONFIG and "
            "@SPLIT optional (hf:NAME:CONFIG@SPLIT; the split is train by default).",
        ),
    ] = None,
    skill: Annotated[
        str | None, typer.Argument(help="The skill to generate data for, e.g. reading_comprehension (or rc).")
    ] = None,
    skills: Annotated[
        str | None,
        typer.Option(
            "--skills", help="Several skills in one run, with optional weights: 'rc:2,fermi,coding' or 'all'."
        ),
    ] = None,
    max_seeds: Annotated[int | None, typer.Option("--max-seeds", help="Use at most N seeds (chunks).")] = None,
    text_field: Annotated[
        str | None, typer.Option("--text-field", help="Tables and datasets: the column holding the text (default text).")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option("--id-field", help="Tables and datasets: a column kept in the lineage as corpus_id.")
    ] = None,
    language_field: Annotated[
        str | None,
        typer.Option("--language-field", help="Tables and datasets: a column naming the row's language (tool_use: code)."),
    ] = None,
    chunk_chars: Annotated[
        int | None, typer.Option("--chunk-chars", help="A seed chunk's size in characters (default 3000).")
    ] = None,
    chunk_overlap: Annotated[
        int | None, typer.Option("--chunk-overlap", help="Characters a chunk repeats from the one before (default 0).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="'local' (embedded, default) or a model name on an OpenAI-compatible endpoint."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL or OpenAI).")
    ] = None,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Environment variable holding the key (default OPENAI_API_KEY).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML: models per role, flow settings, defaults.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder that holds run folders (default runs/, or the config's out).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Name of the run folder (default: time, skill, random).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", help="Seeds in flight at once.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Worker processes sharing the seeds (default 1): more model calls per second against a fast endpoint.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed for persona and goal sampling.")] = None,
    personas: Annotated[
        list[Path] | None, typer.Option("--personas", help="Extra persona folder (repeatable).")
    ] = None,
    refinement_rounds: Annotated[
        int | None, typer.Option("--refinement-rounds", help="Suggester/Editor rounds per instruction.")
    ] = None,
    specialists: Annotated[int | None, typer.Option("--specialists", help="Instruction specialists per seed.")] = None,
    judge_threshold: Annotated[
        float | None,
        typer.Option("--judge-threshold", help="Mean judge score (1-5) a record needs (default 3; 0: no judge)."),
    ] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="Keep records without judging them.")] = False,
    no_dedup: Annotated[bool, typer.Option("--no-dedup", help="Keep exact and near duplicates.")] = False,
    near_duplicate_threshold: Annotated[
        float | None,
        typer.Option(
            "--near-duplicate-threshold",
            help="Cosine similarity of instructions that makes a near duplicate (default 0.95; 1: exact only).",
        ),
    ] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(
            "--decontaminate", help="Benchmark file (JSONL or text) whose n-grams a prompt may not share (repeatable)."
        ),
    ] = None,
    ngram: Annotated[
        int | None, typer.Option("--ngram", help="Words in a shared n-gram that means contamination (default 13).")
    ] = None,
    index: Annotated[
        Path | None, typer.Option("--index", help="tool_use: the code index to update and search (default .agentinstruct/index).")
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Carry on an interrupted run (its id): committed seeds are skipped.")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="With --resume: run the seeds that failed again (only those).")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the request cache.")] = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Stop cleanly once this many US dollars are spent.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Stop cleanly once this many tokens are used.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run a small sample, then estimate calls, tokens and cost for all seeds.")
    ] = False,
    sample: Annotated[int, typer.Option("--sample", help="Seeds in a --dry-run sample.", min=1)] = 3,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="[ADDRESS]",
            help="Shard seeds across Ray workers; an ADDRESS joins a cluster, alone it starts a local Ray.",
        ),
    ] = None,
) -> None:
    overrides = {
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "max_seeds": max_seeds,
        "text_field": text_field,
        "id_field": id_field,
        "language_field": language_field,
        "chunk_chars": chunk_chars,
        "chunk_overlap": chunk_overlap,
        "out": out,
        "run_id": run_id,
        "concurrency": concurrency,
        "workers": workers,
        "seed": seed,
        "personas": personas or [],
        "refinement_rounds": refinement_rounds,
        "specialists_per_seed": specialists,
        "judge_threshold": 0.0 if no_judge else judge_threshold,
        "dedup": False if no_dedup else None,
        "near_duplicate_threshold": near_duplicate_threshold,
        "decontaminate": decontaminate or [],
        "ngram": ngram,
        "index": index,
        "max_cost": max_cost,
        "max_tokens": max_tokens,
        "no_cache": no_cache,
    }
    if resume is not None:
        config = guarded(lambda: resume_config(out or Path("runs"), resume, overrides))
        execute_run(config, resume=True, dry_run=dry_run, sample=sample, ray=ray, retry_failed=retry_failed)
        return
    if retry_failed:
        fail("--retry-failed goes with --resume RUN_ID")
    if seeds is None:
        fail("give --seeds, or --resume RUN_ID" if skill or skills else "give a skill and --seeds, or --resume RUN_ID")
    name, weights = guarded(lambda: chosen_skills(skill, skills))
    config = guarded(lambda: build_config(name, seeds, config_file, overrides, weights))
    execute_run(config, dry_run=dry_run, sample=sample, ray=ray)
