"""Export in every format round-trips through datasets.load_dataset and renders with a real,
tools-aware chat template (a tokenizer the bundled MiniLM package carries, our template file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from retrieval.embedding import bundled_model_dir
from teams.cli.app import app
from teams.report.export import export_run
from teams.runfolder import RunFolder
from tests.run_fixtures import CONVERT_TOOL, WEATHER_TOOL, make_run

TEMPLATE = Path(__file__).parent / "data" / "tool_chat_template.jinja"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(bundled_model_dir() / "tokenizer.json"))
    tok.chat_template = TEMPLATE.read_text(encoding="utf-8")
    return tok


def load(fmt: str, target: Path, split: str = "train") -> Any:
    from datasets import load_dataset, load_from_disk

    if fmt == "hf":
        return load_from_disk(str(target))[split]
    kind = "parquet" if fmt == "parquet" else "json"
    files = str(target / f"{split}.{'parquet' if fmt == 'parquet' else 'jsonl'}") if target.is_dir() else str(target)
    return load_dataset(kind, data_files=files, split="train")


def check_rows(dataset: Any, folder: RunFolder, tokenizer: Any) -> None:
    originals = {r["id"]: r for r in folder.records()}
    rows = list(dataset)
    assert {r["id"] for r in rows} <= set(originals) and rows
    for exported in rows:
        original = originals[exported["id"]]
        assert exported["skill"] == original["skill"] and exported["subcategory"] == original["subcategory"]
        messages = [{k: v for k, v in m.items() if v is not None} for m in exported["messages"]]
        assert messages == original["messages"]
        tools = exported.get("tools") or None
        if isinstance(tools, str):  # ShareGPT carries tools as a JSON string, as LLaMA-Factory reads them
            tools = json.loads(tools)
        text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        assert original["messages"][-1]["content"] in text
        if original.get("tools"):
            assert tools == original["tools"]
            assert '"name": "get_weather", "arguments": {"city": "Lyon"}' in text  # the assistant's tool call
            assert json.dumps(CONVERT_TOOL["function"]["parameters"]) in text  # the tool list
            assert "<tool_response>" in text and "null" not in text.split("</tools>")[0]
        meta = exported["meta"] if isinstance(exported["meta"], dict) else json.loads(exported["meta"])
        assert meta["seed_id"] == original["meta"]["seed_id"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf", "sharegpt"])
def test_export_round_trips_and_renders_with_a_tools_template(fmt: str, tmp_path: Path, tokenizer: Any) -> None:
    folder = make_run(tmp_path / "runs")
    target, counts, _ = export_run(folder, fmt)  # type: ignore[arg-type]
    assert counts == {"train": 4}
    dataset = load(fmt, target)
    assert len(dataset) == 4
    check_rows(dataset, folder, tokenizer)
    if fmt == "sharegpt":
        tool_row = next(r for r in dataset if r["skill"] == "tool_use")
        assert [c["from"] for c in tool_row["conversations"]] == ["human", "function_call", "observation", "gpt"]
        assert tool_row["system"] == "You can call functions."
        assert json.loads(tool_row["tools"]) == [WEATHER_TOOL, CONVERT_TOOL]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf", "sharegpt"])
def test_split_by_skill(fmt: str, tmp_path: Path, tokenizer: Any) -> None:
    folder = make_run(tmp_path / "runs")
    target, counts, _ = export_run(folder, fmt, out=tmp_path / "out", split_by="skill")  # type: ignore[arg-type]
    assert counts == {"reading_comprehension": 3, "tool_use": 1}
    for split, count in counts.items():
        dataset = load(fmt, target, split)
        assert len(dataset) == count and {r["skill"] for r in dataset} == {split}
        check_rows(dataset, folder, tokenizer)


def test_export_command(tmp_path: Path) -> None:
    make_run(tmp_path / "runs")
    result = CliRunner().invoke(
        app,
        ["export", "r1", "--runs", str(tmp_path / "runs"), "--format", "parquet", "--out", str(tmp_path / "d.parquet")],
    )
    assert result.exit_code == 0, result.stderr
    assert "4 rows" in result.stdout and (tmp_path / "d.parquet").is_file()
    bad = CliRunner().invoke(app, ["export", "r1", "--runs", str(tmp_path / "runs"), "--format", "csv"])
    assert bad.exit_code == 2
    missing = CliRunner().invoke(app, ["export", "nope", "--runs", str(tmp_path / "runs"), "--format", "jsonl"])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_an_existing_folder_as_out_gets_the_file_and_its_card_inside(tmp_path: Path) -> None:
    make_run(tmp_path / "runs")
    (tmp_path / "xdir").mkdir()
    result = CliRunner().invoke(
        app, ["export", "r1", "--runs", str(tmp_path / "runs"), "--format", "parquet", "--out", str(tmp_path / "xdir")]
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "xdir").iterdir()) == ["README.md", "r1.parquet"]
    assert not (tmp_path / "README.md").exists()
