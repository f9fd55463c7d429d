"""The `agentinstruct` command: run a skill's teams, inspect runs and transcripts, check personas.

Bad input ends with one line on stderr naming the problem and exit code 2, never a traceback.
Exit codes of `run`: 0 completed, 3 completed with some seeds failed, 1 no seed succeeded,
2 bad input, 4 stopped by --max-cost/--max-tokens, 130 stopped by Ctrl-C (what was done is kept).
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from loguru import logger
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from agents.models import ModelError, ModelSpec
from agents.personas import PersonaError, PersonaLibrary
from retrieval.code_index import CodeIndexError
from retrieval.embedding import EmbeddingError
from retrieval.seeds import SeedError
from taxonomies import TaxonomyError, available_skills, load_taxonomy
from teams.errors import fail, one_line
from teams.export import ExportError
from teams.flows import FlowSettings
from teams.index_cli import index_app
from teams.mixing import MIXED, parse_skills, resolve_skill
from teams.pipeline import ROLES, PreparedRun, RunConfig, SeedOutcome, run_pipeline
from teams.quality import QualityError, QualitySettings
from teams.run_folder import RunFolder, RunFolderError, RunInfo, list_runs
from teams.scale import apply_limits, dry_run_estimate, resume_config, use_ray


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"
    sharegpt = "sharegpt"
    hf = "hf"


class _Commands(TyperGroup):
    """`--ray` takes an optional address (Typer options cannot): alone, it means a local Ray."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = [
            "--ray=local" if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")) else arg
            for i, arg in enumerate(args)
        ]
        return super().parse_args(ctx, args)


app = typer.Typer(
    help="Turn raw documents into instruction-tuning data with teams of AutoGen agents.",
    no_args_is_help=True,
    cls=_Commands,
)
runs_app = typer.Typer(help="Inspect runs: their records and every agent's transcript.", no_args_is_help=True)
personas_app = typer.Typer(help="List, show and validate agent personas.", no_args_is_help=True)
skills_app = typer.Typer(help="The skills data can be generated for, and their taxonomies.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(personas_app, name="personas")
app.add_typer(skills_app, name="skills")
app.add_typer(index_app, name="index")

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
)
EXIT_BY_STATUS = {"completed": 0, "completed_with_failures": 3, "failed": 1, "stopped": 130, "budget_reached": 4}


def guarded(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except USER_ERRORS as exc:
        fail(one_line(exc))


# --- run -------------------------------------------------------------------------------------

OutOption = Annotated[Path, typer.Option("--out", help="Folder that holds run folders.")]


def _load_config_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    if not path.is_file():
        raise SeedError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping of settings")
    return data


def build_config(
    skill: str, seeds: Path, config_file: Path | None, overrides: dict[str, Any], skills: dict[str, float] | None = None
) -> RunConfig:
    """Settings from the config file, then the flags the user gave (flags win)."""
    data = _load_config_file(config_file)
    if skills:
        data["skills"] = skills
    models = dict(data.pop("models", {}) or {})
    model, base_url, api_key_env = overrides.pop("model"), overrides.pop("base_url"), overrides.pop("api_key_env")
    if model is not None or base_url is not None or api_key_env is not None:
        default = dict(models.get("default", {}))
        if model is not None:
            default["model"] = model
        if base_url is not None:
            default["base_url"] = base_url
        if api_key_env is not None:
            default["api_key_env"] = api_key_env
        models["default"] = default
    flow = dict(data.pop("flow", {}) or {})
    flow.update(
        {
            k: overrides.pop(k)
            for k in list(overrides)
            if k in ("refinement_rounds", "specialists_per_seed", "judge_threshold") and overrides[k] is not None
        }
    )
    quality = dict(data.pop("quality", {}) or {})
    quality.update({k: overrides.pop(k) for k in list(overrides) if k in QualitySettings.model_fields})
    quality = {k: v for k, v in quality.items() if v is not None and v != []}
    apply_limits(data, overrides)
    for key in ("max_cost", "max_tokens", "no_cache"):
        overrides.pop(key, None)
    data.update({k: v for k, v in overrides.items() if v is not None and v != []})
    if overrides.get("personas"):
        data["personas"] = overrides["personas"]
    return RunConfig(
        skill=skill,
        seeds=seeds,
        models={k: ModelSpec(**v) for k, v in models.items()},
        flow=FlowSettings(**flow),
        quality=QualitySettings(**quality),
        **data,
    )


def _progress_columns() -> list[Any]:
    return [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "seeds • {task.fields[records]} records • {task.fields[failed]} failed • {task.fields[tokens]:,} tokens"
            " • ${task.fields[cost]:.4f}"
        ),
        TimeElapsedColumn(),
    ]


def execute_run(
    config: RunConfig, *, resume: bool = False, dry_run: bool = False, sample: int = 3, ray: str | None = None
) -> None:
    """Validate, then run with a progress bar; print the summary; exit with the run's status code."""
    if ray is not None and config.workers > 1:
        fail("--ray and --workers do not go together: Ray runs one worker per CPU of its cluster")
    prepared = guarded(lambda: PreparedRun(config, resume=resume))
    if ray is not None:
        guarded(lambda: use_ray(prepared, ray))
    logger.remove()
    logger.add(lambda m: err_console.print(Text(str(m).rstrip())), level="WARNING", format="{level}: {message}")
    progress = Progress(*_progress_columns(), console=err_console, transient=False)
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
                run_pipeline(prepared, on_seed=on_seed, on_start=on_start, sample=sample if dry_run else None)
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
        Path | None, typer.Option("--seeds", help="A .txt/.md file or a folder of them (tool_use: code files).")
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
    out: OutOption = Path("runs"),
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
        config = guarded(lambda: resume_config(out, resume, overrides))
        execute_run(config, resume=True, dry_run=dry_run, sample=sample, ray=ray)
        return
    if seeds is None:
        fail("give a skill and --seeds, or --resume RUN_ID")
    name, weights = guarded(lambda: chosen_skills(skill, skills))
    config = guarded(lambda: build_config(name, seeds, config_file, overrides, weights))
    execute_run(config, dry_run=dry_run, sample=sample, ray=ray)


app.command(
    "run",
    help="Generate data for a skill (or several: --skills) from seeds: three agent teams per seed, then a teacher.",
)(run_command)


def run_skill_script(skill: str) -> None:
    """`python -m teams.skills.<skill> ARGS`: the same as `agentinstruct run <skill> ARGS`."""
    app(args=["run", skill, *sys.argv[1:]], prog_name=f"python -m teams.skills.{skill}")


# --- runs ------------------------------------------------------------------------------------


def _run_row(folder: RunFolder) -> dict[str, Any]:
    info = folder.info()
    return {
        "id": info.run_id,
        "skill": f"{MIXED} ({len(info.skills)} skills)" if info.skills else info.skill,
        "skills": info.skills,
        "model": info.models.get("teacher", ""),
        "status": info.status,
        "seeds": info.totals.seeds,
        "records": info.totals.records,
        "failures": info.totals.seeds_failed,
        "started_at": info.started_at,
    }


WIDE_TABLE = 120  # columns `runs list` needs to show its table without folding


@runs_app.command("list")
def runs_list(out: OutOption = Path("runs"), as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every run under --out: id, skill, model, seeds, records, failures, start time."""
    rows = guarded(lambda: [_run_row(f) for f in list_runs(out)])
    if as_json:
        out_console.print_json(json.dumps(rows))
        return
    if not rows:
        out_console.print(f"no runs under {out}")
        return
    if out_console.width < WIDE_TABLE:  # a table would fold every cell: one block of lines per run
        for row in rows:
            out_console.print(
                f"[bold]{escape(row['id'])}[/]  {row['status']}  {row['seeds']} seeds, {row['records']} records, "
                f"{row['failures']} failed\n  {escape(row['skill'])} · {escape(row['model'])} · "
                f"{row['started_at'][:16].replace('T', ' ')}"
            )
        return
    table = Table()
    for column in ("id", "skill", "model", "status", "seeds", "records", "failures", "started"):
        table.add_column(column, overflow="fold", no_wrap=column == "id")
    for row in rows:
        started = row["started_at"][:16].replace("T", " ")
        cells = [str(row[k]) for k in ("id", "skill", "model", "status", "seeds", "records", "failures")] + [started]
        table.add_row(*(escape(cell) for cell in cells))
    out_console.print(table)


def _render_content(content: Any) -> str:
    """A message as a person reads it: text as is; a structured answer field by field, with
    the line breaks of long text fields kept."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        lines = []
        for key, value in content.items():
            if isinstance(value, str):
                lines.append(f"{key}:\n{value}" if "\n" in value else f"{key}: {value}")
            else:
                lines.append(f"{key}: {json.dumps(value, indent=2, ensure_ascii=False)}")
        return "\n".join(lines)
    return json.dumps(content, indent=2, ensure_ascii=False)


def _show_transcript(folder: RunFolder, seed_id: str, as_json: bool) -> None:
    transcript = folder.transcript(seed_id)
    if as_json:
        out_console.print_json(transcript.model_dump_json())
        return
    out_console.rule(f"seed {transcript.seed_id} · {escape(transcript.source)}")
    for team in transcript.teams:
        status = "" if team.status == "ok" else f" · [red]{team.status}: {escape(team.error or '')}[/]"
        out_console.rule(f"[bold]{team.flow}[/] · {escape(team.step)} · attempt {team.attempt}{status}", style="cyan")
        for participant in team.participants:
            if participant.get("system_message"):
                out_console.print(
                    Panel(
                        Text(participant["system_message"]),
                        title=f"system → {participant['name']} ({participant['model']})",
                        border_style="dim",
                    )
                )
        for message in team.messages:
            tokens = (
                f" · {message.prompt_tokens}+{message.completion_tokens} tokens" if message.completion_tokens else ""
            )
            out_console.print(
                Panel(
                    Text(_render_content(message.content)),
                    title=f"{escape(message.source)}{tokens}",
                    title_align="left",
                )
            )


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    out: OutOption = Path("runs"),
    seed: Annotated[
        str | None, typer.Option("--seed", help="Show every team's conversation for this seed id (or id prefix).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A run's summary and records; with --seed, the whole conversation of every team for that seed."""
    folder = guarded(lambda: RunFolder.open(out, run))
    if seed:
        guarded(lambda: _show_transcript(folder, seed, as_json))
        return
    info = guarded(folder.info)
    records = folder.records()
    if as_json:
        out_console.print_json(
            json.dumps({"run": info.model_dump(mode="json"), "seeds": folder.seeds(), "records": records})
        )
        return
    t = info.totals
    out_console.print(
        f"[bold]{info.run_id}[/] · {_skills_label(info)} · {info.status} · teacher model {escape(info.models.get('teacher', ''))}\n"
        f"seeds {t.seeds} (done {t.seeds_done}, failed {t.seeds_failed}) · records {t.records} · "
        f"step failures {t.step_failures} · tokens {t.tokens:,} · started {info.started_at}"
    )
    if info.skills:
        _print_skill_totals(info, folder.seeds(), records)
    table = Table("seed", "skill", "subcategory", "refinement", "question", "answer")
    for record in records:
        meta = record["meta"]
        refinement = meta.get("refinement") or {}
        user = record["messages"][0]["content"]
        question = " ".join(user.split("Question:\n", 1)[-1].split())
        table.add_row(
            meta["seed_id"],
            record["skill"],
            record["subcategory"],
            f"{refinement.get('goal')} r{refinement.get('round')}" if refinement else "",
            escape(question[:90]),
            escape(record["messages"][-1]["content"].rsplit("Final answer:", 1)[-1].strip()[:40]),
        )
    out_console.print(table)
    out_console.print("see a seed's conversations: agentinstruct runs show RUN --seed SEED_ID")


def _skills_label(info: RunInfo) -> str:
    if not info.skills:
        return info.skill
    return f"{MIXED}: " + ", ".join(f"{name}:{weight:g}" for name, weight in info.skills.items())


def _print_skill_totals(info: RunInfo, seeds: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """A mixed run, skill by skill: seeds given to it, done, failed, records."""
    table = Table("skill", "weight", "seeds", "done", "failed", "records")
    for name, weight in info.skills.items():
        own = [s for s in seeds if s.get("skill") == name]
        table.add_row(
            name,
            f"{weight:g}",
            str(len(own)),
            str(sum(s["status"] == "done" for s in own)),
            str(sum(s["status"] == "failed" for s in own)),
            str(sum(r["skill"] == name for r in records)),
        )
    out_console.print(table)


# --- skills ----------------------------------------------------------------------------------


def _skill_row(library: PersonaLibrary, skill: str) -> dict[str, Any]:
    taxonomy = load_taxonomy(skill)
    personas = {role: len(library.pool(role, skill)) for role in ROLES}
    return {
        "skill": skill,
        "subcategories": len(taxonomy.subcategories),
        "transformations": len(taxonomy.transformations),
        "personas": sum(skill in p.skills for p in library.by_name.values()),
        "personas_by_role": personas,
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


# --- export, stats, viewer ------------------------------------------------------------------

RunsOption = Annotated[Path, typer.Option("--runs", help="Folder that holds run folders.")]


@app.command("export")
def export_command(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl | parquet | sharegpt | hf (a datasets.DatasetDict on disk).")
    ] = ExportFormat.jsonl,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write (default: RUN/export/...); a folder for hf and --split-by."),
    ] = None,
    split_by: Annotated[
        str | None, typer.Option("--split-by", help="One file or split per 'skill' (or 'subcategory').")
    ] = None,
    push_to_hub: Annotated[
        str | None, typer.Option("--push-to-hub", help="With --format hf: also push the DatasetDict to this Hub repo.")
    ] = None,
    runs: RunsOption = Path("runs"),
) -> None:
    """Write a run's records in a format trainers read; every row keeps `messages` (and `tools`)."""
    from teams.export import export_run

    folder = guarded(lambda: RunFolder.open(runs, run))
    target, counts = guarded(lambda: export_run(folder, fmt.value, out, split_by, push_to_hub))
    splits = ", ".join(f"{name}: {count}" for name, count in counts.items())
    out_console.print(f"{sum(counts.values())} rows ({splits}) → {target}", soft_wrap=True, markup=False)


@runs_app.command("stats")
def runs_stats(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    out: OutOption = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Records per skill and subcategory, check pass rates, judge scores, what was dropped, tokens
    (and cost) per kept record, and the diversity of the instructions."""
    from teams.stats import run_stats

    folder = guarded(lambda: RunFolder.open(out, run))
    stats = guarded(lambda: run_stats(folder))
    if as_json:
        out_console.print_json(stats.model_dump_json())
        return
    s = stats
    per_record = f"{s.tokens_per_record:,}" if s.tokens_per_record is not None else "-"
    cost = (
        f" · cost {s.cost:.4f} ({s.cost_per_record:.6f} per record)" if s.cost is not None and s.cost_per_record else ""
    )
    out_console.print(
        f"[bold]{escape(s.run_id)}[/] · {s.status} · {s.records} records from {s.seeds['done']} of {s.seeds['total']} "
        f"seeds ({s.seeds['failed']} failed)\ntokens {s.tokens:,} · {per_record} per kept record{cost} · diversity "
        f"{s.diversity if s.diversity is not None else '-'} (mean pairwise cosine distance of instructions)"
    )
    table = Table("skill", "subcategory", "records")
    for skill, subs in s.by_subcategory.items():
        for sub, count in subs.items():
            table.add_row(escape(skill), escape(sub), str(count))
    out_console.print(table)
    checks = Table("flow", "attempts", "passed", "pass rate", "steps given up")
    for flow, c in s.checks.items():
        rate = f"{c['pass_rate']:.0%}" if c["pass_rate"] is not None else "-"
        checks.add_row(flow, str(c["attempts"]), str(c["passed"]), rate, str(c["steps_given_up"]))
    out_console.print(checks)
    j = s.judge
    if j.get("judged"):
        bars = "  ".join(f"{band}: {n}" for band, n in j["histogram"].items())
        criteria = ", ".join(f"{k} {v}" for k, v in j["kept_mean_by_criterion"].items())
        out_console.print(
            f"judge: {j['judged']} judged, mean {j['mean']}, median {j['median']}, range {j['min']}-{j['max']}\n"
            f"  scores {bars}\n  kept records' mean by criterion: {criteria or '-'}"
        )
    else:
        out_console.print("judge: no record was judged")
    dropped = ", ".join(f"{why.replace('_', ' ')} {n}" for why, n in sorted(s.dropped.items())) or "none"
    out_console.print(f"dropped: {dropped}")


@runs_app.command("view")
def runs_view(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    out: OutOption = Path("runs"),
    html: Annotated[
        Path | None, typer.Option("--html", help="Where to write the page (default: RUN/view.html).")
    ] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open it in the default browser.")] = False,
) -> None:
    """Write one self-contained HTML page to browse the run's records and every agent conversation."""
    import webbrowser

    from teams.viewer import write_viewer

    folder = guarded(lambda: RunFolder.open(out, run))
    target = guarded(lambda: write_viewer(folder, html))
    out_console.print(f"wrote {target}", soft_wrap=True, markup=False)
    if open_it:
        webbrowser.open(target.resolve().as_uri())


# --- personas --------------------------------------------------------------------------------

PersonasOption = Annotated[list[Path] | None, typer.Option("--personas", help="Extra persona folder (repeatable).")]


@personas_app.command("list")
def personas_list(
    personas: PersonasOption = None,
    skill: Annotated[str | None, typer.Option("--skill")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every persona: name, role, skills, what it does."""
    library = guarded(lambda: PersonaLibrary.load(personas or []))
    chosen = [
        p
        for p in sorted(library.by_name.values(), key=lambda p: (p.role, p.name))
        if skill is None or skill in p.skills
    ]
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
