"""`runs stats` on a hand-made run folder: every figure the command prints comes from the folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from teams.cli.app import app
from teams.report.stats import diversity, run_stats
from tests.run_fixtures import make_run, rc_record


def test_stats_figures(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    stats = run_stats(folder)
    assert stats.records == 4 and stats.by_skill == {"reading_comprehension": 3, "tool_use": 1}
    assert stats.by_subcategory["reading_comprehension"] == {"main_idea": 2, "strengthen": 1}
    assert stats.seeds == {"total": 4, "done": 3, "failed": 1}
    # three transcripts, each with one transformation and one judge attempt, all ok; failures from seeds.jsonl
    assert stats.checks["content_transformation"] == {"attempts": 3, "passed": 3, "pass_rate": 1.0, "steps_given_up": 0}
    assert (
        stats.checks["answer"]["steps_given_up"] == 1 and stats.checks["instruction_generation"]["steps_given_up"] == 1
    )
    judge = stats.judge
    assert judge["judged"] == 4 and judge["dropped"] == 1 and judge["min"] == 2.0 and judge["max"] == 4.5
    assert judge["histogram"] == {"1-2": 0, "2-3": 1, "3-4": 1, "4-4.5": 1, "4.5-5": 1}
    assert stats.dropped == {"judge": 1}
    assert stats.tokens == 2120 and stats.tokens_per_record == 530.0 and stats.cost is None
    assert stats.diversity is not None and 0.3 < stats.diversity < 1.2


def test_tokens_are_every_model_call_the_run_counted(tmp_path: Path) -> None:
    """The seeds' transcripts leave some calls out (the user simulator's, a failed attempt's): the
    figures are the run's own count, as it printed it, where the run has one."""
    folder = make_run(tmp_path)
    info = folder.info()
    info.totals.model_tokens = 2500
    folder.write_info(info)
    assert run_stats(folder).tokens == 2500 and run_stats(folder).tokens_per_record == 625.0
    shown = CliRunner().invoke(app, ["runs", "show", info.run_id, "--out", str(tmp_path)])
    assert shown.exit_code == 0 and "tokens 2,500" in shown.stdout


def test_diversity_is_low_for_alike_instructions_and_higher_for_different_ones(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    alike = [rc_record("s", f"k{i}", "What is the passage mainly about?", "p", 4) for i in range(3)]
    varied = [
        rc_record("s", "k1", "What is the passage mainly about?", "p", 4),
        rc_record("s", "k2", "How many countries does the Danube flow through?", "p", 4),
        rc_record("s", "k3", "Which chemical reaction releases the most heat?", "p", 4),
    ]
    low, high = diversity(folder, alike), diversity(folder, varied)
    assert low is not None and high is not None
    assert low < 0.01 and high > 0.5


def test_stats_command_with_cost(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    info = json.loads(folder.run_json.read_text())
    info["totals"]["cost_usd"] = 0.02  # what a run that counts cost writes
    folder.run_json.write_text(json.dumps(info))
    result = CliRunner().invoke(app, ["runs", "stats", "r1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cost"] == 0.02 and data["cost_per_record"] == 0.005
    text = CliRunner().invoke(app, ["runs", "stats", "r1", "--out", str(tmp_path)])
    assert text.exit_code == 0 and "530.0 per kept record" in text.stdout and "dropped: judge 1" in text.stdout
    missing = CliRunner().invoke(app, ["runs", "stats", "nope", "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr
