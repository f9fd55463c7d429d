"""The dataset card every export writes: it loads with huggingface_hub, its counts are those of
`runs stats`, it names the data files of its format, and a user's own README is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from huggingface_hub import DatasetCard
from typer.testing import CliRunner

from teams.cli.app import app
from teams.report.card import without_secrets
from teams.report.export import export_run
from teams.report.stats import run_stats
from teams.runfolder.info import RunInfo
from tests.run_fixtures import make_run


def configured_run(out: Path) -> Any:
    folder = make_run(out)
    info = folder.info()
    config = {"seeds": "hf:allenai/some-corpus:en@train", "text_field": "text", "license": "cc-by-sa-4.0",
              "models": {"default": {"model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY", "api_key": "sk-leak"}},
              "flow": {"judge_threshold": 3.0}}  # fmt: skip
    folder.write_info(RunInfo.model_validate({**info.model_dump(), "config": config, "models": {"teacher": "gpt-4o-mini"},
                                              "versions": {"agentinstruct": "0.1.0"}}))  # fmt: skip
    return folder


def test_the_hf_card_loads_and_its_counts_match_runs_stats(tmp_path: Path) -> None:
    folder = configured_run(tmp_path / "runs")
    target, counts, path = export_run(folder, "hf", split_by="skill")
    assert path == target / "README.md"
    card = DatasetCard.load(path)
    data = card.data.to_dict()
    stats = run_stats(folder, with_diversity=False)
    assert data["license"] == "cc-by-sa-4.0"  # from the run's config
    assert data["size_categories"] == ["n<1K"] and data["task_categories"] == ["text-generation"]
    assert data["configs"] == [{"config_name": "default", "data_files": [
        {"split": "reading_comprehension", "path": "reading_comprehension/*.arrow"}, {"split": "tool_use", "path": "tool_use/*.arrow"},
    ]}]  # fmt: skip
    assert all(list((target / split).glob("*.arrow")) for split in counts)
    for skill, subs in stats.by_subcategory.items():
        for sub, count in subs.items():
            assert f"| {skill} | {sub} | {count} |" in card.text
    assert f"{stats.records} rows from {stats.seeds['done']} of {stats.seeds['total']} seeds" in card.text
    assert f"{stats.judge['judged']} pairs judged: mean {stats.judge['mean']}" in card.text
    assert all(f"| {why} | {n} |" in card.text for why, n in stats.dropped.items())
    assert "seed_lineage" in card.text and "load_from_disk" in card.text and "| teacher | gpt-4o-mini |" in card.text
    assert "sk-leak" not in card.content and "OPENAI_API_KEY" in card.content  # the variable's name, never a key


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_file_export_gets_the_same_card_beside_it(fmt: str, tmp_path: Path) -> None:
    folder = configured_run(tmp_path / "runs")
    target, _, path = export_run(folder, fmt, out=tmp_path / "out" / f"data.{fmt}", license="mit")  # type: ignore[arg-type]
    card = DatasetCard.load(path)
    assert path == tmp_path / "out" / "README.md" and card.data.license == "mit"  # --license wins over the config
    assert card.data.to_dict()["configs"][0]["data_files"] == [{"split": "train", "path": f"data.{fmt}"}]
    from datasets import load_dataset

    loaded = load_dataset("json" if fmt == "jsonl" else fmt, data_dir=str(path.parent), split="train")
    assert len(loaded) == 4  # the Hub's way of reading the folder: the card's configs


def test_a_users_own_readme_is_left_alone(tmp_path: Path) -> None:
    folder = configured_run(tmp_path / "runs")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "README.md").write_text("# my project\n")
    _, _, path = export_run(folder, "jsonl", out=tmp_path / "out" / "data.jsonl")
    assert path == tmp_path / "out" / "dataset_card.md"
    assert (tmp_path / "out" / "README.md").read_text() == "# my project\n"
    _, _, again = export_run(folder, "jsonl", out=tmp_path / "mine" / "data.jsonl")
    _, _, over = export_run(folder, "parquet", out=tmp_path / "mine" / "data.parquet")
    assert again == over == tmp_path / "mine" / "README.md"  # a card of ours is brought up to date


def test_push_to_hub_pushes_the_data_then_a_card_of_the_hubs_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datasets import DatasetDict

    pushed: list[tuple[str, Any]] = []
    monkeypatch.setattr(DatasetDict, "push_to_hub", lambda self, repo, **kw: pushed.append(("data", repo)))
    monkeypatch.setattr(DatasetCard, "push_to_hub", lambda self, repo, **kw: pushed.append(("card", self)))
    export_run(configured_run(tmp_path / "runs"), "hf", push_to_hub="you/data")
    assert [kind for kind, _ in pushed] == ["data", "card"]
    card = pushed[1][1]
    assert card.data.to_dict()["configs"][0]["data_files"] == [{"split": "train", "path": "data/train-*"}]
    assert 'load_dataset("you/data")' in card.text


def test_export_command_says_where_the_card_is_and_takes_license(tmp_path: Path) -> None:
    configured_run(tmp_path / "runs")
    result = CliRunner().invoke(app, ["export", "r1", "--runs", str(tmp_path / "runs"), "--format", "jsonl",
                                      "--license", "apache-2.0", "--language", "en", "--language", "fr"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    card_path = tmp_path / "runs" / "r1" / "export" / "README.md"
    assert f"dataset card → {card_path}" in result.stdout
    data = DatasetCard.load(card_path).data
    assert data.license == "apache-2.0" and data.language == ["en", "fr"]


@pytest.mark.parametrize(
    ("given", "hint"),
    [("foo", ""), ("MIT", " (did you mean 'mit'?)"), ("cc-by-4", " (did you mean 'cc-by-4.0'?)")],
)
def test_export_refuses_a_license_the_hub_does_not_know_in_one_line_and_writes_nothing(
    tmp_path: Path, given: str, hint: str
) -> None:
    configured_run(tmp_path / "runs")
    result = CliRunner().invoke(app, ["export", "r1", "--runs", str(tmp_path / "runs"), "--license", given])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and lines == [
        f"error: unknown license '{given}'{hint}: use a Hub license id such as apache-2.0, mit, cc-by-4.0, or 'other' "
        "(all: https://huggingface.co/docs/hub/repositories-licenses)"
    ], result.stderr
    assert not (tmp_path / "runs" / "r1" / "export").exists()


def test_export_refuses_an_unknown_license_from_the_run_s_config(tmp_path: Path) -> None:
    """A run made before its config's license was checked may hold any string: the card would carry it."""
    folder = configured_run(tmp_path / "runs")
    info = folder.info()
    folder.write_info(RunInfo.model_validate({**info.model_dump(), "config": {**info.config, "license": "CC-BY-SA"}}))
    result = CliRunner().invoke(app, ["export", "r1", "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and result.stderr.startswith("error: unknown license 'CC-BY-SA'"), result.stderr
    assert not (tmp_path / "runs" / "r1" / "export").exists()


def test_the_card_names_the_run_s_paths_by_their_last_part_not_where_the_user_keeps_them(tmp_path: Path) -> None:
    """run.json keeps every path absolute (so that a run resumes from any folder); the card is
    public, and names each as the records name a seed's source."""
    folder = configured_run(tmp_path / "runs")
    info = folder.info()
    home = tmp_path / "home" / "me"
    paths = {"seeds": str(home / "corpus" / "docs"), "out": str(home / "runs"), "personas": [str(home / "mine")],
             "cache_dir": str(home / ".cache" / "ai"), "index": str(home / "ix")}  # fmt: skip
    config = {**info.config, **paths, "quality": {"decontaminate": [str(home / "bench.jsonl")], "ngram": 13}}
    folder.write_info(RunInfo.model_validate({**info.model_dump(), "config": config}))
    _, _, path = export_run(folder, "jsonl", out=Path("out") / "data.jsonl")  # the current folder is tmp_path
    card = DatasetCard.load(path)
    assert str(tmp_path) not in card.content and "Seeds: `docs`" in card.text
    shown = yaml.safe_load(card.text.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert {key: shown[key] for key in paths} == {
        "seeds": "docs", "out": "runs", "personas": ["mine"], "cache_dir": "ai", "index": "ix"
    }  # fmt: skip
    assert shown["quality"] == {"decontaminate": ["bench.jsonl"], "ngram": 13}
    assert shown["models"]["default"]["api_key_env"] == "OPENAI_API_KEY"  # the rest as it was


def test_the_hub_license_list_holds_the_ids_the_error_names_and_the_card_s_default() -> None:
    from teams.engine.licenses import hub_licenses

    assert {"apache-2.0", "mit", "cc-by-4.0", "other", "unknown", "cc-by-nc-sa-4.0"} <= set(hub_licenses())


def test_secrets_are_dropped_from_any_depth() -> None:
    config = {"models": {"a": {"api_key": "x", "api_key_env": "K", "limits": {"tokens_per_minute": 5}}}, "token": "t"}
    assert without_secrets(config) == {"models": {"a": {"api_key_env": "K", "limits": {"tokens_per_minute": 5}}}}
    assert json.dumps(without_secrets([{"password": "p"}])) == "[{}]"
