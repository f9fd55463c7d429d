"""The dataset card an export writes beside its data: a README.md the Hugging Face Hub reads.

Its YAML front matter (configs and splits, size category, task categories, language, license,
tags) is built by huggingface_hub's DatasetCardData; its body (card_template.md) says what made
the data (agentinstruct's version, the run's config with no secrets and its paths by name, the
model of each role), what it holds (rows per skill and subcategory, judge scores), what was
dropped and why, how the lineage fields read, and how to load it. Every count comes from
`run_stats`, so the card and `agentinstruct runs stats` agree.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import metadata
from pathlib import Path, PurePath
from typing import Any

import yaml

from retrieval.sources import source_name
from teams.engine.config import RunConfig, map_paths
from teams.engine.licenses import check_license
from teams.flows.runtime import FlowSettings
from teams.report.stats import RunStats
from teams.runfolder.folder import RunFolder

TEMPLATE = Path(__file__).with_name("card_template.md")
CARD_TAG = "agentinstruct"
SECRET_KEY = re.compile(r"(^|_)(api_key|key|token|secret|password|authorization)$", re.IGNORECASE)
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]  # fmt: skip


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "100M<n<1B")


def without_secrets(value: Any) -> Any:
    """The config with any key, token or password field dropped (run.json holds none; a card is public)."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def without_layout(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every path (the seeds too) named by its last part, as records name a seed's
    source (retrieval.sources.source_name): run.json keeps them absolute, and where the user keeps
    the files is not the dataset's business."""

    def named(path: str | PurePath, _: tuple[Any, ...] = ()) -> str:
        return source_name(str(path), str(path))

    shown = map_paths(config, RunConfig, named)
    if isinstance(shown.get("seeds"), str):
        shown["seeds"] = named(shown["seeds"])
    return dict(shown)


def loading_snippet(fmt: str, data_files: dict[str, str], target: Path, repo: str | None) -> str:
    if repo:
        return f'from datasets import load_dataset\n\nds = load_dataset("{repo}")'
    if fmt == "hf":
        return f'from datasets import load_from_disk\n\nds = load_from_disk("{target}")'
    kind = "parquet" if fmt == "parquet" else "json"
    folder = target if target.is_dir() else target.parent
    files = {split: str(folder / path) for split, path in data_files.items()}
    return f'from datasets import load_dataset\n\nds = load_dataset("{kind}", data_files={files!r})'


def card_license(license: str | None, config: dict[str, Any]) -> str:
    """--license, else the run's config's, else 'unknown': a Hub license id, checked here too since
    a run's config from before that check may hold another."""
    return check_license(license or config.get("license") or "unknown")


def dataset_card(
    folder: RunFolder,
    stats: RunStats,
    fmt: str,
    data_files: dict[str, str],
    counts: dict[str, int],
    target: Path,
    *,
    license: str | None = None,
    language: list[str] | None = None,
    repo: str | None = None,
) -> Any:
    """The card of a run's export: `data_files` maps each split to its files (relative to the card),
    `counts` to its rows."""
    from huggingface_hub import DatasetCard, DatasetCardData

    info = folder.info()
    config = without_layout(without_secrets(info.config))
    chosen = card_license(license, config)
    skills = sorted(stats.by_skill)
    card_data = DatasetCardData(
        language=language or ["en"],
        license=chosen,
        size_categories=[size_category(stats.records)],
        task_categories=["text-generation"],
        tags=["synthetic", CARD_TAG, "instruction-tuning", *skills],
        pretty_name=f"agentinstruct {info.run_id}",
        configs=[{"config_name": "default",
                  "data_files": [{"split": split, "path": path} for split, path in data_files.items()]}],
    )  # fmt: skip
    failures = Counter(str(s.get("reason")).split(":")[0] for s in folder.seeds() if s.get("status") == "failed")
    return DatasetCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        pretty_name=card_data.pretty_name,
        version=info.versions.get("agentinstruct") or metadata.version("agentinstruct"),
        run_id=info.run_id,
        status=info.status,
        started_at=info.started_at,
        finished_at=info.finished_at,
        loading=loading_snippet(fmt, data_files, target, repo),
        json_columns=fmt in ("parquet", "hf"),
        stats=stats.model_dump(),
        splits=counts if len(counts) > 1 else {},
        judge_threshold=(config.get("flow") or {}).get("judge_threshold", FlowSettings().judge_threshold),
        failures=failures.most_common(),
        skipped=info.totals.skipped_documents,
        seeds=config.get("seeds"),
        seed_count=info.totals.seeds,
        models=info.models,
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        versions=info.versions,
        license=chosen,
    )


def card_path(beside: Path) -> Path:
    """README.md in the folder `beside` names, unless a README.md that is not a card of ours is
    there already: then <folder>/dataset_card.md, so a user's own README is never overwritten."""
    readme = beside / "README.md"
    if readme.exists():
        head = readme.read_text(encoding="utf-8", errors="replace")[:4000]
        if not (head.startswith("---") and f"- {CARD_TAG}" in head.split("\n---", 2)[0]):
            return beside / "dataset_card.md"
    return readme
