"""The CLI and the whole pipeline against the fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from teams.cli.app import app
from teams.cli.run import progress_display
from teams.flows.types import Record, SeedTranscript
from tests.conftest import EXAMPLE_SEEDS, REPO
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder, schema_kind
from tests.run_fixtures import make_run

runner = CliRunner()
SECRET = "sk-test-secret-never-written-0123456789"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(competent_responder) as srv:
        yield srv


def run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def fake_run(server: FakeOpenAIServer, out: Path, *extra: str, seeds: Path = EXAMPLE_SEEDS) -> tuple[int, str, str]:
    return run_cli(
        "run", "reading_comprehension", "--seeds", str(seeds), "--model", "fake-model",
        "--base-url", server.base_url, "--out", str(out), *extra,
    )  # fmt: skip


def test_run_writes_records_transcripts_seeds_and_log(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    code, stdout, stderr = fake_run(server, tmp_path / "runs", "--run-id", "r1", "--concurrency", "3")
    assert code == 0, stderr
    folder = tmp_path / "runs" / "r1"
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "completed" and info["skill"] == "reading_comprehension"
    assert info["models"]["teacher"] == "fake-model"
    seeds = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    assert len(seeds) == info["totals"]["seeds"] == 3 and {s["status"] for s in seeds} == {"done"}
    records = [Record.model_validate_json(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert len(records) == info["totals"]["records"] == sum(s["records"] for s in seeds) > 0
    assert len({r.id for r in records}) == len(records)
    for record in records:
        assert [m.role for m in record.messages] == ["user", "assistant"]
        assert all(m.content.strip() for m in record.messages)
        assert record.meta["transcript"] == f"transcripts/{record.meta['seed_id']}.json"
        assert (folder / record.meta["transcript"]).is_file()
    refined = [r for r in records if r.meta["refinement"]]
    assert refined and {r.meta["refinement"]["round"] for r in refined} == {1}
    transcript = SeedTranscript.model_validate_json((folder / records[0].meta["transcript"]).read_text())
    assert {t.flow for t in transcript.teams} == {
        "content_transformation",
        "instruction_generation",
        "refinement",
        "answer",
        "judge",
    }
    assert all(r.meta["judge"]["score"] == 4 for r in records)  # the fake judge gives every criterion a 4
    assert "seed" in (folder / "run.log").read_text()
    # the structured calls asked the endpoint for our schemas
    kinds = {schema_kind(r) for r in server.requests}
    assert {"transform", "instructions", "suggestions", "edits", "answer"} <= kinds
    # no key, no secret, in the run folder (near-duplicate search was on, as by default: it writes nothing)
    assert info["config"]["quality"]["near_duplicate_threshold"] < 1 and not (folder / "dedup").exists()
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_same_seed_gives_the_same_choices(server: FakeOpenAIServer, tmp_path: Path) -> None:
    def choices(run_id: str, seed: str) -> list[tuple[str, str, str]]:
        # the fake's questions differ only by a call counter: near-duplicate removal would depend on it
        assert fake_run(server, tmp_path, "--run-id", run_id, "--seed", seed, "--no-dedup")[0] == 0
        lines = (tmp_path / run_id / "records.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        return sorted((r["meta"]["seed_id"], r["meta"]["transformation"], r["subcategory"]) for r in rows)

    first = choices("a", "7")
    assert first == choices("b", "7")
    assert any(first != choices(f"c{s}", str(s)) for s in (1, 2, 3))


def test_team_script_runs_with_python_dash_m(server: FakeOpenAIServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    done = subprocess.run(
        [sys.executable, "-m", "teams.skills.reading_comprehension", "--seeds", str(EXAMPLE_SEEDS / "honeybees.md"),
         "--model", "fake-model", "--base-url", server.base_url, "--out", str(tmp_path), "--run-id", "m"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m" / "records.jsonl").read_text().strip()


def test_a_team_script_s_help_shows_its_own_usage_and_run_s_options_less_the_skill_s() -> None:
    """The script's help was `run`'s under a garbled name (`python -m teams.skills.python -m
    teams.skills run [OPTIONS] [skill]`), offering a skill argument and --skills it then refused."""
    done = subprocess.run(
        [sys.executable, "-m", "teams.skills.fermi", "--help"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    usage = [line.strip() for line in done.stdout.splitlines() if "Usage:" in line]
    assert usage == ["Usage: python -m teams.skills.fermi [OPTIONS]"]
    assert "--skills" not in done.stdout and "[skill]" not in done.stdout and "Arguments" not in done.stdout
    run: Any = typer.main.get_command(app)
    options = [o for p in run.commands["run"].params for o in p.opts if o.startswith("--") and o != "--skills"]
    assert options and all(o in done.stdout for o in options)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_progress_line_keeps_the_seed_counter_and_the_time_on_one_line_at_80_columns(width: int) -> None:
    """At 80 columns Rich narrowed the counter, the bar and the time to nothing and kept the totals."""
    console = Console(width=width, record=True, file=io.StringIO())
    progress = progress_display(console)
    task = progress.add_task(
        "retrieval_augmented_generation", total=1200, records=12345, failed=17, tokens=12_345_678, cost=123.4567
    )
    progress.start_task(task)
    progress.update(task, completed=370)
    console.print(progress.get_renderable())
    lines = console.export_text().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= width, lines
    assert "370/1200 seeds • 12345 records" in lines[0] and re.search(r" \d:\d\d:\d\d$", lines[0]), lines
    if width == 200:  # room for all of it
        assert "retrieval_augmented_generation" in lines[0] and "17 failed • 12,345,678 tokens • $123.4567" in lines[0]


def test_a_copied_run_is_listed_by_its_folder_and_a_folder_without_run_json_says_so(tmp_path: Path) -> None:
    make_run(tmp_path, "r1")
    shutil.copytree(tmp_path / "r1", tmp_path / "copy")
    code, stdout, _ = run_cli("runs", "list", "--out", str(tmp_path), "--json")
    assert code == 0 and sorted(row["id"] for row in json.loads(stdout)) == ["copy", "r1"]
    assert run_cli("runs", "show", "copy", "--out", str(tmp_path))[0] == 0  # the id listed is one it takes
    (tmp_path / "copy" / "run.json").unlink()
    code, _, stderr = run_cli("runs", "show", "copy", "--out", str(tmp_path))
    assert code == 2 and stderr.count("\n") == 1 and "has no run.json" in stderr


def test_runs_list_and_show(server: FakeOpenAIServer, tmp_path: Path) -> None:
    assert fake_run(server, tmp_path, "--run-id", "shown", "--max-seeds", "1")[0] == 0
    code, stdout, _ = run_cli("runs", "list", "--out", str(tmp_path), "--json")
    (row,) = json.loads(stdout)
    assert code == 0 and row["id"] == "shown" and row["seeds"] == 1 and row["records"] > 0 and row["failures"] == 0
    code, stdout, _ = run_cli("runs", "list", "--out", str(tmp_path))  # 80 columns: a block per run, not a table
    first, second = stdout.splitlines()[:2]
    assert first.split() == ["shown", "completed", "1", "seeds,", str(row["records"]), "records,", "0", "failed"]
    assert second.split()[:3] == ["reading_comprehension", "·", "fake-model"]

    code, stdout, _ = run_cli("runs", "show", "shown", "--out", str(tmp_path), "--json")
    shown = json.loads(stdout)
    assert shown["run"]["run_id"] == "shown" and len(shown["records"]) == row["records"]

    seed = shown["records"][0]["meta"]["seed_id"]
    code, stdout, _ = run_cli("runs", "show", "shown", "--out", str(tmp_path), "--seed", seed[:8])
    assert code == 0
    for expected in ("content_transformation", "instruction_generation", "refinement", "answer", "system →", "user"):
        assert expected in stdout
    code, stdout, _ = run_cli("runs", "show", "shown", "--out", str(tmp_path), "--seed", seed, "--json")
    assert SeedTranscript.model_validate_json(stdout).seed_id == seed

    code, _, stderr = run_cli("runs", "show", "nope", "--out", str(tmp_path))
    assert code == 2 and "no run 'nope'" in stderr


def test_persona_added_with_personas_joins_the_pool_and_speaks_its_own_system_message(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "tweet_thread.yaml").write_text(
        "version: 1\nname: tweet_thread_transformer\nrole: transformer\nskills: [reading_comprehension]\n"
        "description: Rewrites a text as a thread of short posts.\ntransformation: tweet_thread\nweight: 100000\n"
        "system_message: You are ZEBRA, who turns texts into a {{ transformation }} for {{ skill }}.\n",
        encoding="utf-8",
    )
    code, stdout, _ = run_cli("personas", "list", "--personas", str(folder), "--json")
    assert code == 0 and "tweet_thread_transformer" in {p["name"] for p in json.loads(stdout)}

    assert fake_run(server, tmp_path, "--run-id", "p", "--max-seeds", "1", "--personas", str(folder))[0] == 0
    record = json.loads((tmp_path / "p" / "records.jsonl").read_text().splitlines()[0])
    assert record["meta"]["transformation"] == "tweet_thread"
    assert record["meta"]["personas"]["transformer"] == "tweet_thread_transformer"
    transcript = SeedTranscript.model_validate_json((tmp_path / "p" / record["meta"]["transcript"]).read_text())
    (team,) = [t for t in transcript.teams if t.flow == "content_transformation"]
    assert team.participants[0]["system_message"] == (
        "You are ZEBRA, who turns texts into a tweet_thread for reading_comprehension."
    )
    sent = [r for r in server.requests if r["messages"][0]["content"].startswith("You are ZEBRA")]
    assert sent, "the persona's system message is what the model was sent"


def test_malformed_answers_are_retried_then_recorded_while_the_run_goes_on(tmp_path: Path) -> None:
    def responder(request: dict) -> str:
        task = next(m["content"] for m in request["messages"] if m["role"] == "user")
        if schema_kind(request) == "answer" and "POISON" in task:
            return "this is not json"
        return competent_responder(request)

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_text("Honeybees live in large colonies led by a single queen bee.", encoding="utf-8")
    (seeds / "bad.txt").write_text("POISON text that makes the teacher answer badly every time.", encoding="utf-8")
    with FakeOpenAIServer(responder) as server:
        code, stdout, stderr = fake_run(server, tmp_path / "runs", "--run-id", "f", seeds=seeds)
    assert code == 3, stderr  # completed, with a failed seed
    folder = tmp_path / "runs" / "f"
    seeds_rows = {Path(s["source"]).name: s for s in map(json.loads, (folder / "seeds.jsonl").read_text().splitlines())}
    assert seeds_rows["good.txt"]["status"] == "done" and seeds_rows["good.txt"]["records"] > 0
    assert seeds_rows["bad.txt"]["status"] == "failed" and seeds_rows["bad.txt"]["reason"].startswith("answer")
    transcript = json.loads((folder / "transcripts" / f"{seeds_rows['bad.txt']['id']}.json").read_text())
    attempts = [t["attempt"] for t in transcript["teams"] if t["flow"] == "answer" and t["step"].endswith("-1")]
    assert max(attempts) == 3  # retried up to the bound
    assert json.loads((folder / "run.json").read_text())["status"] == "completed_with_failures"


def test_an_endpoint_that_is_down_gives_one_line_and_exit_5(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("endpoint_down_after: 2\n", encoding="utf-8")
    code, _, stderr = run_cli(
        "run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS / "honeybees.md"), "--model", "m",
        "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path), "--run-id", "down", "--config", str(config),
    )  # fmt: skip
    assert code == 5
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "127.0.0.1:9" in lines[0] and "Traceback" not in stderr
    seeds = tmp_path / "down" / "seeds.jsonl"
    assert not seeds.exists() or seeds.read_text() == ""  # the seed is left for --resume, not failed
    assert json.loads((tmp_path / "down" / "run.json").read_text())["status"] == "endpoint_down"


def bad_input(kind: str, p: Path) -> list[str]:
    """Arguments for `run` that carry one kind of bad input."""
    if kind == "missing":
        return ["--seeds", str(p / "missing")]
    if kind == "empty folder":
        (p / "empty").mkdir()
        return ["--seeds", str(p / "empty")]
    if kind == "binary":
        (p / "b.txt").write_bytes(b"\x00\xff\x01")
        return ["--seeds", str(p / "b.txt")]
    if kind == "symlink loop":
        (p / "a").symlink_to("b")
        (p / "b").symlink_to("a")
        return ["--seeds", str(p / "a")]
    if kind == "fifo":
        os.mkfifo(p / "fifo.txt")
        return ["--seeds", str(p / "fifo.txt")]
    if kind == "malformed csv":
        (p / "x.csv").write_text('id,text\n1,"unterminated quote\n2,foo\n')
        return ["--seeds", str(p / "x.csv")]
    if kind == "empty seeds":
        (p / "empty.txt").write_text("")
        return ["--seeds", str(p / "empty.txt")]
    if kind == "invalid utf-8":
        (p / "u.txt").write_bytes(b"caf\xe9 au lait")
        return ["--seeds", str(p / "u.txt")]
    (p / "personas").mkdir()
    text = "name: [unclosed\n" if kind == "malformed yaml" else "version: 1\nname: x\nrole: wizard\n"
    (p / "personas" / "x.yaml").write_text(text)
    return ["--seeds", str(EXAMPLE_SEEDS), "--personas", str(p / "personas")]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file or folder"),
        ("empty folder", "folder holds no seed files"),
        ("binary", "binary"),
        ("invalid utf-8", "not valid UTF-8"),
        ("symlink loop", "a: symlink loop"),
        ("fifo", "fifo.txt: not a regular file or folder"),
        ("malformed csv", "x.csv: line 2: unterminated quoted field"),
        ("empty seeds", "empty.txt: no non-empty seed text found: its one document is empty"),
        ("malformed yaml", "malformed YAML"),
        ("bad persona field", "x.yaml: role:"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(tmp_path: Path, kind: str, message: str) -> None:
    args = bad_input(kind, tmp_path)
    code, stdout, stderr = run_cli("run", "reading_comprehension", *args, "--out", str(tmp_path / "runs"))
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], stderr
    assert "Traceback" not in stderr + stdout


def test_a_skipped_empty_seed_is_a_warning_in_the_cli_s_own_format(server: FakeOpenAIServer, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a_empty.txt").write_text("")
    (seeds / "b.txt").write_text((EXAMPLE_SEEDS / "town_council.txt").read_text())
    code, _, stderr = fake_run(server, tmp_path / "runs", "--max-seeds", "1", seeds=seeds)
    assert code == 0, stderr
    # the console wraps long lines at its width, at a space when it can (which it then drops):
    # where depends on the temporary folder's length, so the line is compared without spaces
    expected = f"WARNING: {seeds / 'a_empty.txt'}: skipped a document with no text"
    assert "".join(expected.split()) in "".join(stderr.split())
    assert "| WARNING |" not in stderr


def test_unknown_skill_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, stderr = run_cli("run", "underwater_basketry", "--seeds", str(EXAMPLE_SEEDS))
    assert (
        code == 2
        and stderr.strip().splitlines() == [stderr.strip()]
        and "unknown skill 'underwater_basketry'" in stderr
    )


def test_personas_check_names_the_file_and_field(tmp_path: Path) -> None:
    assert run_cli("personas", "check")[0] == 0
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "oops.yaml").write_text(
        "version: 1\nname: oops\nrole: teacher\nskills: [reading_comprehension]\ndescription: d\n"
        "system_message: Hello {{ skil }}\ncolour: blue\n",
        encoding="utf-8",
    )
    code, _, stderr = run_cli("personas", "check", "--personas", str(tmp_path / "p"))
    assert code == 2
    assert "oops.yaml" in stderr and "colour" in stderr
    (tmp_path / "p" / "oops.yaml").write_text(
        "version: 1\nname: oops\nrole: teacher\nskills: [reading_comprehension]\ndescription: d\n"
        "system_message: Hello {{ skil }}\n",
        encoding="utf-8",
    )
    code, _, stderr = run_cli("personas", "check", "--personas", str(tmp_path / "p"))
    assert code == 2 and "oops.yaml" in stderr and "'skil' is undefined" in stderr


PERSONA = (
    "version: 1\nname: mine\nrole: transformer\nskills: [reading_comprehension]\ndescription: d\n"
    "transformation: tweet_thread\nsystem_message: Turn texts into a {{ transformation }}.\n"
)
BAD_PERSONAS = {
    "undefined template variable": (PERSONA.replace("{{ transformation }}", "{{ nosuchvar.attr }}"),
                                    "p.yaml: system_message: 'nosuchvar' is undefined"),
    "unknown skill": (PERSONA.replace("[reading_comprehension]", "[no_such_skill]"),
                      "p.yaml: unknown skill 'no_such_skill'"),
    "a file, not a folder": (PERSONA, "p.yaml: is not a folder"),
}  # fmt: skip


def bad_persona_folder(tmp_path: Path, kind: str) -> Path:
    (tmp_path / "per").mkdir()
    (tmp_path / "per" / "p.yaml").write_text(BAD_PERSONAS[kind][0], encoding="utf-8")
    return tmp_path / "per" / "p.yaml" if kind == "a file, not a folder" else tmp_path / "per"


def one_error_line(stderr: str) -> str:
    """The single line a bad input ends with (and fails the test if there are more, or a traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("kind", BAD_PERSONAS)
def test_a_bad_persona_stops_run_before_its_folder_or_any_call_and_fails_check(
    server: FakeOpenAIServer, tmp_path: Path, kind: str
) -> None:
    folder = bad_persona_folder(tmp_path, kind)
    code, _, stderr = fake_run(server, tmp_path / "runs", "--personas", str(folder), "--no-judge")
    assert code == 2 and BAD_PERSONAS[kind][1] in one_error_line(stderr), stderr
    assert not (tmp_path / "runs").exists() and server.requests == []
    code, _, stderr = run_cli("personas", "check", "--personas", str(folder))
    assert code == 2 and BAD_PERSONAS[kind][1] in one_error_line(stderr), stderr


def test_personas_list_refuses_an_unknown_skill_as_skills_show_does() -> None:
    code, _, stderr = run_cli("personas", "list", "--skill", "nosuchskill")
    assert code == 2 and "unknown skill 'nosuchskill'" in one_error_line(stderr), stderr
    code, stdout, _ = run_cli("personas", "list", "--skill", "rc", "--json")
    assert code == 0 and "reading_comprehension" in json.loads(stdout)[0]["skills"]


def test_personas_list_for_a_skill_has_the_any_skill_personas_a_run_of_it_may_draw() -> None:
    """A `skills: ["*"]` persona serves every skill with no persona of its role: the list left it out."""

    def listed(skill: str) -> set[str]:
        code, stdout, stderr = run_cli("personas", "list", "--skill", skill, "--json")
        assert code == 0, stderr
        return {p["name"] for p in json.loads(stdout)}

    assert {"judge", "transform_reviewer"} <= listed("fermi")
    rc = listed("rc")
    assert {"transform_reviewer", "reading_comprehension_judge"} <= rc and "judge" not in rc  # a judge of its own


def test_personas_show_prints_the_file() -> None:
    code, stdout, _ = run_cli("personas", "show", "teacher")
    assert code == 0 and "role: teacher" in stdout
    assert run_cli("personas", "show", "nobody")[0] == 2


def test_ctrl_c_stops_cleanly_and_keeps_what_was_done(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i in range(12):
        (seeds / f"s{i}.txt").write_text(
            f"Seed number {i}: owls hunt at night and eat about {i} mice.", encoding="utf-8"
        )
    with FakeOpenAIServer(competent_responder, latency=0.05) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "teams.cli", "run", "reading_comprehension", "--seeds", str(seeds), "--model", "m",
             "--base-url", server.base_url, "--out", str(tmp_path), "--run-id", "c", "--concurrency", "1"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        seeds_file = tmp_path / "c" / "seeds.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (seeds_file.exists() and seeds_file.read_text().strip()):
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "stopped" in stderr
    info = json.loads((tmp_path / "c" / "run.json").read_text())
    done = [json.loads(line) for line in seeds_file.read_text().splitlines()]
    assert info["status"] == "stopped" and 1 <= len(done) < 12
    records = [Record.model_validate_json(line) for line in (tmp_path / "c" / "records.jsonl").read_text().splitlines()]
    assert len(records) == sum(s["records"] for s in done)  # every committed seed's records, whole lines only


def test_a_config_file_gives_each_role_its_model_and_sets_the_flow(server: FakeOpenAIServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"models:\n  default: {{model: writer-model, base_url: '{server.base_url}'}}\n"
        f"  teacher: {{model: teacher-model, base_url: '{server.base_url}'}}\n"
        "flow: {refinement_rounds: 0, specialists_per_seed: 1, suggestions_per_round: 2, goals_per_instruction: all}\n"
        "concurrency: 1\n",
        encoding="utf-8",
    )
    code, _, stderr = run_cli(
        "run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(config),
        "--out", str(tmp_path), "--run-id", "cfg", "--max-seeds", "2",
    )  # fmt: skip
    assert code == 0, stderr
    models_by_kind = {(schema_kind(r), r["model"]) for r in server.requests}
    assert {m for kind, m in models_by_kind if kind == "answer"} == {"teacher-model"}
    assert {m for kind, m in models_by_kind if kind != "answer"} == {"writer-model"}
    assert "suggestions" not in {kind for kind, _ in models_by_kind}  # refinement_rounds: 0
    info = json.loads((tmp_path / "cfg" / "run.json").read_text())
    assert info["models"]["teacher"] == "teacher-model" and info["models"]["transformer"] == "writer-model"
    assert info["config"]["flow"]["refinement_rounds"] == 0 and info["config"]["concurrency"] == 1
    assert info["config"]["flow"]["suggestions_per_round"] == 2 and info["config"]["flow"]["goals_per_instruction"] == "all"
    records = [json.loads(line) for line in (tmp_path / "cfg" / "records.jsonl").read_text().splitlines()]
    assert records and all(r["meta"]["refinement"] is None for r in records)
    assert {r["meta"]["models"]["teacher"] for r in records} == {"teacher-model"}


def test_a_bad_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("flow: {refinement_rounds: many}\n", encoding="utf-8")
    code, _, stderr = run_cli("run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(config))
    assert code == 2 and stderr.count("\n") == 1 and "refinement_rounds" in stderr
    config.write_text("flow: {goals_per_instruction: some}\n", encoding="utf-8")
    code, _, stderr = run_cli("run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(config))
    assert code == 2 and stderr.count("\n") == 1 and "goals_per_instruction" in stderr


def a_run_that_ends_quickly(tmp_path: Path) -> list[str]:
    """`run` arguments whose run, were it made, would stop within a second (nothing on port 9)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "seed.txt").write_text("Owls hunt at night and eat mice, voles and beetles.", encoding="utf-8")
    (tmp_path / "in" / "config.yaml").write_text("endpoint_down_after: 1\n", encoding="utf-8")
    return ["run", "reading_comprehension", "--seeds", str(tmp_path / "in" / "seed.txt"), "--model", "m",
            "--base-url", "http://127.0.0.1:9/v1", "--config", str(tmp_path / "in" / "config.yaml"),
            "--out", str(tmp_path / "runs"), "--run-id", "r"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--seeds", ""], "--seeds"), (["--seeds="], "--seeds"), (["--out", ""], "--out"), (["--out", "  "], "--out"),
        (["--config", ""], "--config"), (["--personas", ""], "--personas"), (["--index", ""], "--index"),
        (["--decontaminate", ""], "--decontaminate"),
        (["index", "build", "--seeds", "", "--index", "ix"], "--seeds"),
        (["index", "query", "owls", "--index="], "--index"), (["export", "r", "--out", ""], "--out"),
        (["runs", "list", "--out", ""], "--out"),
    ],
)  # fmt: skip
def test_an_empty_option_is_one_line_and_makes_no_run_folder(tmp_path: Path, args: list[str], option: str) -> None:
    """An empty path was the current folder (Path('') is '.'): `--seeds ''` read what was there,
    `--out ''` wrote the run there (here the test's cwd, tmp_path)."""
    run = a_run_that_ends_quickly(tmp_path)
    if args[0].startswith("-"):  # an option of `run`, given last: it wins over the one before
        args = run + args
    code, _, stderr = run_cli(*args)
    assert code == 2 and one_error_line(stderr) == f"error: {option} is empty"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no run folder, no index, no export


@pytest.mark.parametrize(
    ("how", "url", "why"),
    [
        ("flag", "http://[::1", "Invalid IPv6 URL"),
        ("flag", "http://127.0.0.1:abc/v1", "Port could not be cast to integer value as 'abc'"),
        ("flag", "not-a-url", "http:// or https://"),
        ("flag", "ftp://127.0.0.1:9/v1", "http:// or https://"),
        ("flag", "http:///v1", "no host"),
        ("config", "http://127.0.0.1:99999/v1", "Port out of range 0-65535"),
        ("env", "localhost:9/v1", "(from OPENAI_BASE_URL): the scheme must be http:// or https://"),
    ],
)
def test_an_invalid_base_url_is_one_line_and_makes_no_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, url: str, why: str
) -> None:
    """Some failed in the first call with a long traceback, others made a run folder and waited
    for the endpoint-down timeout; each is refused where its model spec is built."""
    args = a_run_that_ends_quickly(tmp_path)
    if how == "config":
        (tmp_path / "in" / "config.yaml").write_text(
            f"endpoint_down_after: 1\nmodels:\n  teacher: {{model: m, base_url: '{url}'}}\n", encoding="utf-8"
        )
    elif how == "env":
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        args.remove("--base-url"), args.remove("http://127.0.0.1:9/v1")
    code, _, stderr = run_cli(*args, *(["--base-url", url] if how == "flag" else []))
    assert code == 2
    line = one_error_line(stderr)
    assert f"invalid base URL '{url}'" in line and why in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_config_files_quality_section_and_out_apply_and_flags_win(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's `quality:` (and `out:`) used to be overwritten by the flags left out, then dropped."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"models:\n  default: {{model: fake-model, base_url: '{server.base_url}'}}\n"
        "quality: {dedup: false, near_duplicate_threshold: 0.5, ngram: 20}\nout: from_file\n",
        encoding="utf-8",
    )
    code, _, stderr = run_cli(
        "run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(config),
        "--run-id", "q", "--max-seeds", "1", "--ngram", "15",
    )  # fmt: skip
    assert code == 0, stderr
    info = json.loads((tmp_path / "from_file" / "q" / "run.json").read_text())
    assert info["config"]["quality"] == {
        "dedup": False, "near_duplicate_threshold": 0.5, "decontaminate": [], "ngram": 15,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("quality: {dedup: maybe}", "quality.dedup"),
        ("quality: {dedup: false, decontaminate: [does/not/exist.jsonl]}", "{folder}/does/not/exist.jsonl"),
        ("quality: [1, 2]", "quality"),
        ("flow: 5", "flow"),
        ("models: [a]", "models"),
        ("models: {default: fake-model}", "models.default"),
        ("prices: 3", "prices"),
        ("seeds: elsewhere", "seeds"),
        ("license: cc-by-4", "license: unknown license 'cc-by-4' (did you mean 'cc-by-4.0'?): use a Hub license id"),
    ],
)
def test_a_config_value_of_the_wrong_shape_is_one_line_and_exit_2(tmp_path: Path, text: str, names: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text + "\n", encoding="utf-8")
    code, stdout, stderr = run_cli(
        "run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(config),
        "--model", "fake-model", "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "runs"),
    )  # fmt: skip
    assert code == 2 and one_error_line(stderr).startswith(f"error: {names.format(folder=tmp_path)}"), stderr
    assert "Traceback" not in stdout and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ('out: ""', "out"), ("index: ''", "index"), ("cache_dir: '  '", "cache_dir"), ('personas: [""]', "personas.0"),
        ('quality: {decontaminate: [bench.txt, ""]}', "quality.decontaminate.1"),
    ],
)  # fmt: skip
def test_an_empty_path_in_a_config_file_is_one_line_naming_its_key(tmp_path: Path, setting: str, key: str) -> None:
    """Path('') is '.': `out: ""` wrote the run into the current folder, as `--out ''` did before
    it was refused; the file's empty paths are refused alike."""
    args = a_run_that_ends_quickly(tmp_path)
    out = args.index("--out")
    del args[out : out + 2]  # the run folder would go where the config says
    config = tmp_path / "in" / "config.yaml"
    config.write_text(f"endpoint_down_after: 1\n{setting}\n", encoding="utf-8")
    code, _, stderr = run_cli(*args)
    assert code == 2 and one_error_line(stderr) == f"error: {key} is empty in {config}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_relative_paths_in_a_config_file_are_read_from_its_folder(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """They were read from the current folder (here tmp_path), so a config with paths in it
    worked only when run from its own folder."""
    project = tmp_path / "project"
    (project / "mine").mkdir(parents=True)
    (project / "bench.txt").write_text(
        "a benchmark question of more than thirteen words that none of the example seeds has in it", encoding="utf-8"
    )
    (project / "config.yaml").write_text(
        f"models:\n  default: {{model: fake-model, base_url: '{server.base_url}'}}\n"
        "out: runs\npersonas: [mine]\nquality: {decontaminate: [bench.txt]}\ncache_dir: cache\n",
        encoding="utf-8",
    )
    code, _, stderr = run_cli(
        "run", "reading_comprehension", "--seeds", str(EXAMPLE_SEEDS), "--config", str(project / "config.yaml"),
        "--run-id", "r", "--max-seeds", "1",
    )  # fmt: skip
    assert code == 0, stderr
    config = json.loads((project / "runs" / "r" / "run.json").read_text())["config"]
    assert config["personas"] == [str(project / "mine")]
    assert config["quality"]["decontaminate"] == [str(project / "bench.txt")]
    assert config["cache_dir"] == str(project / "cache") and (project / "cache").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_every_path_setting_of_a_config_file_is_read_from_its_folder_and_every_path_flag_from_the_current_one(
    tmp_path: Path,
) -> None:
    """Each is kept absolute (in run.json), so a run resumed from another folder reads the same
    files; a Hub dataset stays a name."""
    from teams.engine.config import build_config

    folder = tmp_path / "conf"  # the current folder is tmp_path
    folder.mkdir()
    (folder / "c.yaml").write_text(
        "out: o\nindex: ix\ncache_dir: ../shared\npersonas: [p, /abs/p]\nquality: {decontaminate: [b.txt, ~/b.txt]}\n",
        encoding="utf-8",
    )
    built = build_config("reading_comprehension", "seeds", Path("conf") / "c.yaml", {})
    assert (built.out, built.index, built.cache_dir) == (folder / "o", folder / "ix", folder / "../shared")
    assert built.personas == [folder / "p", Path("/abs/p")]
    assert built.quality.decontaminate == [folder / "b.txt", Path.home() / "b.txt"]
    assert built.seeds == str(tmp_path / "seeds")
    flags = {"out": Path("o"), "index": Path("../ix"), "personas": [Path("p")], "decontaminate": [Path("b.txt")]}
    built = build_config("reading_comprehension", "seeds", folder / "c.yaml", flags)
    assert (built.out, built.index, built.personas, built.quality.decontaminate) == (
        tmp_path / "o", tmp_path / "../ix", [tmp_path / "p"], [tmp_path / "b.txt"],
    )  # fmt: skip
    assert build_config("reading_comprehension", "hf:org/corpus@test", None, {}).seeds == "hf:org/corpus@test"


@pytest.mark.parametrize(
    ("settings", "loads"),
    [({}, True), ({"near_duplicate_threshold": 1}, False), ({"dedup": False}, False)],
)
def test_the_near_duplicate_model_loads_before_the_run_loop_starts(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, object], loads: bool
) -> None:
    """Loaded inside the event loop, MiniLM held off Ctrl-C until it was in memory (asyncio acts
    on SIGINT only when the loop runs again): seconds here, minutes on a busy machine. The gate
    is made before the loop (PreparedRun), so it loads it there, and only when it will use it."""
    from retrieval import embedding
    from teams.engine.quality import QualityGate, QualitySettings

    loaded: list[bool] = []
    monkeypatch.setattr(embedding, "load_model", lambda: loaded.append(True))
    QualityGate(QualitySettings.model_validate(settings))
    assert loaded == ([True] if loads else [])


def test_ctrl_c_while_the_cli_is_still_importing_exits_130_without_a_traceback() -> None:
    script = Path(sys.executable).parent / "agentinstruct"
    if not script.exists():
        pytest.skip("the console script is not installed in this environment")
    process = subprocess.Popen(
        [str(script), "skills", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(0.3)  # importing AutoGen, torch and Chroma takes over a second
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr


def _as_typed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, skill: str | None = None) -> tuple[int, str, str]:
    """The command as the console script runs it (`teams.cli.main`, not CliRunner, which
    bypasses its error handling): exit code, stdout, stderr."""
    from teams.cli import main

    monkeypatch.setattr(sys, "argv", ["agentinstruct", *args])
    with pytest.raises(SystemExit) as stopped:
        main(skill)
    captured = capsys.readouterr()
    return int(stopped.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "skill", "says", "hint"),
    [
        (["run", "fermi", "--bogus"], None, "No such option: --bogus", " run --help' for help."),
        (["runz"], None, "No such command 'runz'. Did you mean 'run', 'runs'?", "agentinstruct --help' for help."),
        (["export", "r1", "--format", "xml"], None, "Invalid value for '--format'", " export --help' for help."),
        (["runs", "list", "--out"], None, "Option '--out' requires an argument.", ""),  # Click gives no command here
        (["--skills", "fermi"], "fermi", "No such option: --skills", "Try 'python -m teams.skills.fermi --help' for help."),
        (["reading_comprehension"], "fermi", "unexpected extra argument", "Try 'python -m teams.skills.fermi --help'"),
    ],
)
def test_a_usage_error_is_one_line_with_click_s_hint(
    args: list[str], skill: str | None, says: str, hint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _as_typed(monkeypatch, capsys, *args, skill=skill)
    line = one_error_line(err)  # where Typer printed the usage, a hint and a boxed message
    assert code == 2 and out == "" and says in line and hint in line, line


def test_help_a_bare_group_and_a_command_s_own_errors_are_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _as_typed(monkeypatch, capsys, "--help")
    assert code == 0 and "[OPTIONS] COMMAND [ARGS]" in out and err == ""
    code, out, err = _as_typed(monkeypatch, capsys, "runs")  # a group alone shows its help, exit 2 as Click has it
    assert code == 2 and "runs [OPTIONS] COMMAND [ARGS]" in out and "error" not in err
    code, out, err = _as_typed(monkeypatch, capsys, "skills", "list", "--json")
    assert code == 0 and json.loads(out) and err == ""
    code, _, err = _as_typed(monkeypatch, capsys, "run")
    assert code == 2 and one_error_line(err) == "error: give a skill and --seeds, or --resume RUN_ID"
    for args, skill in ((["run", "fermi"], None), ([], "fermi")):  # the skill given: only --seeds is missing
        code, _, err = _as_typed(monkeypatch, capsys, *args, skill=skill)
        assert code == 2 and one_error_line(err) == "error: give --seeds, or --resume RUN_ID"


def test_run_help_shows_the_hub_seed_syntax_whole(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Rich once read `[@SPLIT]` in the help as markup and dropped it."""
    code, out, _ = _as_typed(monkeypatch, capsys, "run", "--help")
    assert code == 0 and "@SPLIT" in out and ":CONFIG" in out
