"""`agentinstruct runs list|show|stats|view`: the runs under a folder, a run's records and every
agent's transcript, its figures, and one HTML page to browse it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from teams.cli.common import OutOption, guarded, open_run, out_console
from teams.engine.mixing import MIXED
from teams.runfolder.folder import RunFolder, list_runs
from teams.runfolder.info import RunInfo

runs_app = typer.Typer(help="Inspect runs: their records and every agent's transcript.", no_args_is_help=True)


def _run_row(folder: RunFolder) -> dict[str, Any]:
    info = folder.info()
    return {
        "id": folder.path.name,  # what the other commands take (a copied run keeps its run.json's id)
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
    folder = open_run(out, run)
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
        f"step failures {t.step_failures} · tokens {t.model_tokens or t.tokens:,} · started {info.started_at}"
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


@runs_app.command("stats")
def runs_stats(
    run: Annotated[str, typer.Argument(help="Run id (see `agentinstruct runs list`).")],
    out: OutOption = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Records per skill and subcategory, check pass rates, judge scores, what was dropped, tokens
    (and cost) per kept record, and the diversity of the instructions."""
    from teams.report.stats import run_stats

    folder = open_run(out, run)
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

    from teams.report.viewer import write_viewer

    folder = open_run(out, run)
    target = guarded(lambda: write_viewer(folder, html))
    out_console.print(f"wrote {target}", soft_wrap=True, markup=False)
    if open_it:
        webbrowser.open(target.resolve().as_uri())
