"""Seeds from tables through a whole run on the fake server: lineage in seeds.jsonl and in every
record's meta, tool use on code rows, bad input refused before any model call, plain run ids."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from tests.conftest import REPO
from tests.fake_openai import FakeOpenAIServer
from tests.fakes import competent_responder
from tests.tool_fakes import tool_use_responder

runner = CliRunner()
PASSAGES = [
    "The lighthouse keeper logged the fog at dawn: thick until nine, then thinning as the wind turned west.",
    "At the harbour market the fishmongers sold out of mackerel by noon, and prices for crab rose a third.",
]


def corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps({"body": p, "doc_id": f"log-{i}"}) + "\n" for i, p in enumerate(PASSAGES)))
    return path


def run(server: FakeOpenAIServer, out: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", "reading_comprehension", "--model", "fake", "--base-url", server.base_url,
                                 "--out", str(out), *args])  # fmt: skip
    return result.exit_code, result.stderr


def test_a_jsonl_corpus_runs_and_every_seed_and_record_says_where_it_came_from(tmp_path: Path) -> None:
    seeds = corpus(tmp_path / "data")
    with FakeOpenAIServer(competent_responder) as server:
        code, stderr = run(server, tmp_path / "runs", "--seeds", str(seeds), "--text-field", "body",
                           "--id-field", "doc_id", "--run-id", "r", "--chunk-overlap", "50")  # fmt: skip
    assert code == 0, stderr
    folder = tmp_path / "runs" / "r"
    lines = [json.loads(line) for line in (folder / "seeds.jsonl").read_text().splitlines()]
    assert sorted((s["lineage"]["row"], s["lineage"]["corpus_id"], s["source"]) for s in lines) == [
        (0, "log-0", str(seeds)), (1, "log-1", str(seeds))
    ]  # fmt: skip
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert records
    by_seed = {s["id"]: s["lineage"] for s in lines}
    assert all(r["meta"]["seed_lineage"] == by_seed[r["meta"]["seed_id"]] for r in records)
    config = json.loads((folder / "run.json").read_text())["config"]
    assert (config["text_field"], config["id_field"], config["chunk_overlap"]) == ("body", "doc_id", 50)


def test_a_bad_row_is_one_line_and_exit_2_before_any_model_call(tmp_path: Path) -> None:
    seeds = corpus(tmp_path / "data")
    with seeds.open("a") as handle:
        handle.write('{"body": 17, "doc_id": "log-2"}\n')
    with FakeOpenAIServer(competent_responder) as server:
        code, stderr = run(server, tmp_path / "runs", "--seeds", str(seeds), "--text-field", "body", "--run-id", "r")
        assert server.requests == []
    assert code == 2 and stderr.strip() == f"error: {seeds}: line 3: 'body' is a number, not text"
    assert not (tmp_path / "runs" / "r").exists()


@pytest.mark.parametrize("flag", ["--run-id", "--resume"])
@pytest.mark.parametrize("run_id", ["../../escape", "a/b", ".hidden", ".."])
def test_a_run_id_that_is_not_a_plain_name_is_refused(tmp_path: Path, flag: str, run_id: str) -> None:
    out = tmp_path / "deep" / "runs"
    with FakeOpenAIServer(competent_responder) as server:
        code, stderr = run(server, out, "--seeds", str(corpus(tmp_path / "data")), "--text-field", "body", flag, run_id)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "is not a plain name" in lines[0], stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written anywhere, in or above --out


def test_tool_use_takes_code_rows_with_their_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    source = (REPO / "examples" / "code" / "stations.py").read_text()
    table = tmp_path / "code.parquet"
    pq.write_table(pa.table({"content": [source, "int add(int a, int b) { return a + b; }"], "lang": ["Python", "C"],
                             "path": ["stations.py", "add.c"]}), table)  # fmt: skip
    with FakeOpenAIServer(tool_use_responder) as server:
        result = runner.invoke(app, [
            "run", "tool_use", "--seeds", str(table), "--text-field", "content", "--language-field", "lang",
            "--id-field", "path", "--model", "fake-model", "--base-url", server.base_url, "--out", str(tmp_path / "runs"),
            "--run-id", "t", "--index", str(tmp_path / "index"), "--max-seeds", "1",
        ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    seeds = [json.loads(line) for line in (tmp_path / "runs" / "t" / "seeds.jsonl").read_text().splitlines()]
    assert [s["lineage"] for s in seeds] == [{"row": 0, "corpus_id": "stations.py", "language": "python"}]
    from retrieval.code_index import CodeIndex
    from retrieval.sources import load_code_seeds

    assert CodeIndex(tmp_path / "index").indexed_files().keys() == {f"{table}#row=0"}
    cut_as_files = load_code_seeds(REPO / "examples" / "code" / "stations.py")
    assert [s.id for s in load_code_seeds(table, text_field="content", language_field="lang", max_seeds=len(cut_as_files))] == [
        s.id for s in cut_as_files
    ]  # a code row is cut exactly as the same code in a file
