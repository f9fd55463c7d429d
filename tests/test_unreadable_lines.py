"""A line of a run folder's JSONL files that a crash tore mid-write: the commands that read the
folder skip it as before, and now say so in one line on stderr, naming the file and what a
resume does about it; their output and exit code stay as they were."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from loguru import logger
from typer.testing import CliRunner

from teams.cli.app import app
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder
from tests.run_fixtures import make_run

runner = CliRunner()
TORN = b'{"id": "torn", "messages": [{"role": "user", "content": "What is'
TORN_MID_CHARACTER = '{"id": "torn", "messages": [{"role": "user", "content": "Caf\xc3'.encode("latin-1")

COMMANDS = [
    ["runs", "show", "r1"],
    ["runs", "show", "r1", "--json"],
    ["runs", "stats", "r1", "--json"],
    ["runs", "view", "r1"],
    ["export", "r1"],
]


def invoke(args: list[str], out: Path) -> tuple[int, str, str]:
    where = ["--runs" if args[0] == "export" else "--out", str(out)]
    result = runner.invoke(app, [*args, *where])
    return result.exit_code, result.stdout, result.stderr


def tear(path: Path, torn: bytes = TORN) -> None:
    with path.open("ab") as handle:
        handle.write(torn)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_torn_last_record_line_is_skipped_with_one_warning_and_the_output_unchanged(
    args: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    folder = make_run(out)
    code, before, stderr = invoke(args, out)
    assert code == 0 and stderr == "", stderr
    tear(folder.records_path)
    code, after, stderr = invoke(args, out)
    assert code == 0, stderr
    assert after == before
    if "--json" in args:
        json.loads(after)
    assert stderr.splitlines() == [
        f"WARNING: {folder.records_path}: 1 unreadable line skipped (torn by a crash?); "
        f"`agentinstruct run --resume r1 --out {out}` removes it and runs again the seeds left unfinished"
    ]


def test_each_file_with_unreadable_lines_is_named_once(tmp_path: Path) -> None:
    """The viewer reads records, dropped records and seeds' lines: one warning per file with such
    lines, however often it is read. A line cut in the middle of a character is one of them."""
    folder = make_run(tmp_path / "runs")
    tear(folder.seeds_path, TORN_MID_CHARACTER)
    with folder.dropped_path.open("a", encoding="utf-8") as handle:
        handle.write("not json\n")
    tear(folder.dropped_path)
    said: list[str] = []
    sink = logger.add(said.append, level="WARNING")
    try:
        assert len(folder.seeds()) == len(folder.seeds()) == 4
    finally:
        logger.remove(sink)
    assert len(said) == 1
    code, _, stderr = invoke(["runs", "view", "r1"], tmp_path / "runs")
    assert code == 0
    warnings = stderr.splitlines()
    assert len(warnings) == 2 and all(line.startswith("WARNING: ") for line in warnings), stderr
    assert f"{folder.dropped_path}: 2 unreadable lines skipped" in warnings[0] and "removes them" in warnings[0]
    assert f"{folder.seeds_path}: 1 unreadable line skipped" in warnings[1]


def test_the_resume_the_warning_names_repairs_the_folder(tmp_path: Path) -> None:
    seeds, out = tmp_path / "seeds", tmp_path / "runs"
    seeds.mkdir()
    # two unlike seeds: seeds alike only in a number can have every record of the second dropped
    # as a near duplicate of the first's, and then the last record line is not the last seed's
    (seeds / "s0.txt").write_text("Report: the harbour crane lifted 2 containers an hour.")
    (seeds / "s1.txt").write_text("Minutes: the council voted to open a library by the river in May.")
    with FakeOpenAIServer(competent_responder) as server:
        args = ["--model", "fake", "--base-url", server.base_url, "--seeds", str(seeds), "--run-id", "r"]
        assert invoke(["run", "reading_comprehension", *args], out)[0] == 0
        folder = out / "r"
        seed_lines = (folder / "seeds.jsonl").read_text().splitlines(keepends=True)
        record_lines = (folder / "records.jsonl").read_text().splitlines(keepends=True)
        last_seed = json.loads(seed_lines[-1])["id"]
        assert json.loads(record_lines[-1])["meta"]["seed_id"] == last_seed  # what a crash there would leave
        # killed while writing the last seed's records: its last record cut, its seed line not written
        (folder / "seeds.jsonl").write_text("".join(seed_lines[:-1]))
        (folder / "records.jsonl").write_text("".join(record_lines[:-1]) + record_lines[-1][:40])
        code, _, warning = invoke(["runs", "show", "r"], out)
        assert code == 0 and "1 unreadable line skipped" in warning
        command = shlex.split(warning.split("`")[1])
        assert command[0] == "agentinstruct"
        assert runner.invoke(app, command[1:]).exit_code == 0
    code, _, stderr = invoke(["runs", "show", "r"], out)
    assert code == 0 and stderr == ""
    assert len((folder / "seeds.jsonl").read_text().splitlines()) == len(seed_lines)
    assert len((folder / "records.jsonl").read_text().splitlines()) == len(record_lines)


@pytest.mark.parametrize(
    "line", [b"[1]\n", b'"a record"\n', b"null\n", b"{}\n", b'{"id": "x", "meta": {}}\n'],
    ids=["list", "string", "null", "empty object", "object missing fields"],
)
def test_a_json_line_that_is_not_an_object_is_unreadable_not_a_traceback(line: bytes, tmp_path: Path) -> None:
    """Valid JSON that is no record or seed line (a hand edit, another tool's file): skipped and
    named like a torn line by every reader, and removed by the repair a resume makes."""
    from teams.runfolder.repair import repair

    out = tmp_path / "runs"
    folder = make_run(out)
    count = len(folder.records())
    for path in (folder.records_path, folder.dropped_path, folder.seeds_path):
        tear(path, line)
    for args in COMMANDS:
        code, _, stderr = invoke(args, out)
        assert code == 0 and "Traceback" not in stderr, stderr
        assert f"{folder.records_path}: 1 unreadable line skipped" in stderr
    assert repair(folder).torn_lines == 2  # seeds' and records' lines
    assert b"\n" + line not in folder.records_path.read_bytes() and len(folder.records()) == count
