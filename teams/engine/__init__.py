"""The run engine: a run's configuration built once, its inputs validated, the per-seed entry, the
run loop, and the ways seeds are shared out (worker processes, Ray), mixed across skills, and
filtered on the way into the run folder.

    config.py      RunConfig: from flags and a config file, from run.json on resume, per worker
    prepare.py     PreparedRun: everything validated before any model call; SkillSet
    seed.py        the per-seed entry: a skill's flows, then the judge, into a SeedOutcome
    loop.py        run_pipeline: seeds in flight, the quality gate, commits in order
    process.py     how a run sets up its process (AutoGen's logs, the garbage collector)
    quality.py     duplicates, near duplicates, decontamination
    mixing.py      several skills in one run: which seed goes to which skill
    licenses.py    the Hub's license ids (hub_licenses.yaml) a run's config and a dataset card may name
    shards.py, workers.py, ray_runner.py   seeds shared out to worker processes or Ray actors

The loop never imports the processors: the CLI picks one and hands it to `run_pipeline`.
"""

from teams.engine.config import RunConfig, build_config, resume_config, share_limits
from teams.engine.loop import SeedProcessor, run_pipeline
from teams.engine.mixing import MIXED, parse_skills, resolve_skill
from teams.engine.prepare import PreparedRun, SkillSet, check_library
from teams.engine.process import RUN_GC_THRESHOLDS, collect_less, quiet_autogen
from teams.engine.quality import QualityError, QualityGate, QualitySettings
from teams.engine.seed import process_one, process_seed

__all__ = [
    "MIXED",
    "RUN_GC_THRESHOLDS",
    "PreparedRun",
    "QualityError",
    "QualityGate",
    "QualitySettings",
    "RunConfig",
    "SeedProcessor",
    "SkillSet",
    "build_config",
    "check_library",
    "collect_less",
    "parse_skills",
    "process_one",
    "process_seed",
    "quiet_autogen",
    "resolve_skill",
    "resume_config",
    "run_pipeline",
    "share_limits",
]
