"""A run's configuration, built once: from the config file and the flags of a new run, from
run.json for a resumed one, and as each worker process's share of the endpoint limits. Written
into run.json (specs name the variables holding keys, never the keys)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path, PurePath
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.models.spec import ModelSpec
from agents.models.usage import Budget, Price
from retrieval.hub import is_hub
from retrieval.seeds import SeedError, SeedOptions
from teams.engine.licenses import check_license
from teams.engine.mixing import MIXED
from teams.engine.quality import QualitySettings
from teams.flows.runtime import FlowSettings
from teams.runfolder.folder import RunFolder, check_run_id


class RunConfig(BaseModel):
    """Everything a run needs; written (without secrets: specs name key variables, never keys)
    into run.json."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(description=f"the skill, or '{MIXED}' with the skills and their weights in `skills`")
    skills: dict[str, float] = Field(default_factory=dict, description="a mixed run: skill -> weight")
    seeds: str = Field(description="a file or folder, a save_to_disk folder, or hf:NAME[:CONFIG][@SPLIT]")
    out: Path = Path("runs")
    run_id: str | None = None
    max_seeds: int | None = Field(None, ge=1)
    concurrency: int = Field(4, ge=1, le=4096)
    workers: int = Field(1, ge=1, le=256, description="worker processes sharing the seeds (teams.engine.workers); 1: this one")
    seed: int = 0
    personas: list[Path] = Field(default_factory=list)
    models: dict[str, ModelSpec] = Field(default_factory=lambda: {"default": ModelSpec()})
    flow: FlowSettings = Field(default_factory=FlowSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    chunk_chars: int = Field(3000, ge=200, description="a seed chunk's size, in characters (at most about)")
    chunk_overlap: int = Field(0, ge=0, description="characters a chunk repeats from the end of the one before it")
    text_field: str = Field("text", min_length=1, description="tables and datasets: the column that holds the text")
    id_field: str | None = Field(None, min_length=1, description="tables and datasets: a column kept as corpus_id")
    language_field: str | None = Field(None, min_length=1, description="tables and datasets: a column naming the language")
    license: str | None = Field(None, description="the dataset's license for its card (a Hub license id), e.g. cc-by-4.0")
    index: Path | None = Field(None, description="the code index tool use searches (None: its default folder)")
    prices: dict[str, Price] = Field(default_factory=dict, description="per model label, $ per 1M tokens")
    budget: Budget = Field(default_factory=Budget)
    endpoint_down_after: float = Field(
        300.0, gt=0, description="seconds an endpoint may stay unreachable (new work paused, probed) before the run stops"
    )
    cache: bool = Field(True, description="the persistent request cache (--no-cache: off)")
    cache_dir: Path | None = Field(None, description="None: the run folder's cache/; share one to reuse calls across runs")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds_as_text(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("license")
    @classmethod
    def _hub_license(cls, value: str | None) -> str | None:
        return None if value is None else check_license(value)

    @field_validator("run_id")
    @classmethod
    def _plain_run_id(cls, value: str | None) -> str | None:
        if value is not None:
            check_run_id(value)
        return value

    @model_validator(mode="after")
    def _seed_options_fit(self) -> RunConfig:
        self.seed_options()  # an overlap too large for the chunks fails here, with the config
        return self

    def seed_options(self) -> SeedOptions:
        """How the seeds are read and cut."""
        return SeedOptions(
            text_field=self.text_field, id_field=self.id_field, language_field=self.language_field,
            chunk_chars=self.chunk_chars, chunk_overlap=self.chunk_overlap, max_seeds=self.max_seeds,
        )  # fmt: skip

    @property
    def skill_names(self) -> list[str]:
        """The run's skills: its one skill, or a mixed run's."""
        return list(self.skills) if self.skill == MIXED else [self.skill]


def _load_config_file(path: Path | None) -> dict[str, Any]:
    """The file's settings, each path in them read from the file's folder."""
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
    # every path in the file read from its folder, as docker-compose reads its paths
    return map_paths(data, RunConfig, lambda value, where: _path_from_file(str(value), path, where))


PathChange = Callable[[str | PurePath, tuple[Any, ...]], Any]


def map_paths(value: Any, annotation: Any, change: PathChange, where: tuple[Any, ...] = ()) -> Any:
    """`value` of a setting typed `annotation` (a config file's, a dumped config's, run.json's),
    with `change(path, where)` in place of every path in it. Paths are found by type, through
    sections, lists and mappings, so a new path setting needs nothing here. A value of the wrong
    shape is left as it is, for validation to name."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        kinds = [kind for kind in get_args(annotation) if kind is not type(None)]
        if len(kinds) != 1:
            return value  # `'all' | int | None` and such: no path in them
        annotation = kinds[0]
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, PurePath) and isinstance(value, str | PurePath):
        return change(value, where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        fields = annotation.model_fields
        return {
            key: map_paths(item, fields[key].annotation, change, (*where, key)) if key in fields else item
            for key, item in value.items()
        }
    if origin is list and isinstance(value, list):
        return [map_paths(item, args[0], change, (*where, i)) for i, item in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {key: map_paths(item, args[1], change, (*where, key)) for key, item in value.items()}
    return value


def _path_from_file(value: str, config_file: Path, where: tuple[Any, ...]) -> Path:
    """A relative path of the config file, from the file's folder; an absolute or `~` one as it
    is. An empty one would be the current folder (Path('') is '.'), as an empty flag would: refused."""
    name = ".".join(str(part) for part in where)
    if not value.strip():
        raise SeedError(f"{name} is empty in {config_file}")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~nosuchuser
        raise SeedError(f"{name}: cannot expand '{value}' in {config_file}") from None
    return path if path.is_absolute() else config_file.parent / path


def build_config(
    skill: str, seeds: str | Path, config_file: Path | None, overrides: dict[str, Any], skills: dict[str, float] | None = None
) -> RunConfig:
    """Settings from the config file, then the flags the user gave (flags win; a flag left out is
    None or an empty list and hides nothing). The file is validated whole first, so a section of
    the wrong shape (`flow: 5`, `models: [a]`) is one line naming it, for every section alike,
    and the merge below only ever meets well-formed sections."""
    data = _load_config_file(config_file)
    for key in ("skill", "skills", "seeds"):
        if key in data:
            raise SeedError(f"{key}: set on the command line, not in the config file")
    data = {key: value for key, value in data.items() if value is not None}  # `flow:` left empty: the defaults
    merged = RunConfig.model_validate({**data, "skill": skill, "seeds": seeds, "skills": skills or {}}).model_dump()
    given = {key: value for key, value in overrides.items() if value is not None and value != []}
    for key in ("model", "base_url", "api_key_env"):
        if key in given:
            merged["models"].setdefault("default", {})[key] = given.pop(key)
    for section, settings in (("flow", FlowSettings), ("quality", QualitySettings)):
        merged[section].update({key: given.pop(key) for key in list(given) if key in settings.model_fields})
    apply_limits(merged, overrides)
    for key in ("max_cost", "max_tokens", "no_cache"):
        given.pop(key, None)
    return absolute_paths(RunConfig.model_validate({**merged, **given}))


def absolute_paths(config: RunConfig) -> RunConfig:
    """The config with every path in it absolute (the seeds too, unless on the Hub), as run.json
    keeps it: kept as typed, the flags' paths were relative to the folder the run was started in,
    and `--resume` from another folder missed the seeds or read others. Not resolved: a symlinked
    folder stays the one named. Records and the dataset card name these paths by their last part."""
    data = map_paths(config.model_dump(), RunConfig, lambda path, _: Path(path).absolute())
    if not is_hub(config.seeds):
        data["seeds"] = str(Path(config.seeds).absolute())
    return RunConfig.model_validate(data)


# what a resumed run may change: how fast and how far it goes, not what it asks the models
RESUME_OVERRIDES = ("concurrency", "workers")


def resume_config(out: Path, run_id: str, overrides: dict[str, Any]) -> RunConfig:
    """The interrupted run's own config (from its run.json), with the limits given now."""
    info = RunFolder.open(out, run_id).info()
    data = dict(info.config)
    data["out"], data["run_id"] = str(out), run_id
    for key in RESUME_OVERRIDES:
        if overrides.get(key) is not None:
            data[key] = overrides[key]
    apply_limits(data, overrides)
    return RunConfig.model_validate(data)


def apply_limits(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """--max-cost, --max-tokens and --no-cache onto a config's data, alike for a new run and a resumed one."""
    budget = dict(data.get("budget") or {})
    for key in ("max_cost", "max_tokens"):
        if overrides.get(key) is not None:
            budget[key] = overrides[key]
    data["budget"] = budget
    if overrides.get("no_cache"):
        data["cache"] = False


def share_limits(config: RunConfig, parts: int) -> RunConfig:
    """The config each of `parts` workers runs: every endpoint's requests in flight, requests per
    minute and tokens per minute divided among them, so that together they keep the limits."""
    if parts <= 1:
        return config
    models = {}
    for role, spec in config.models.items():
        limits = spec.limits
        shared = limits.model_copy(
            update={
                "max_in_flight": math.ceil(limits.max_in_flight / parts),
                "requests_per_minute": limits.requests_per_minute and limits.requests_per_minute / parts,
                "tokens_per_minute": limits.tokens_per_minute and limits.tokens_per_minute / parts,
            }
        )
        models[role] = spec.model_copy(update={"limits": shared})
    return config.model_copy(update={"models": models})
