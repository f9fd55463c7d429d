"""The run folder, `runs/<run-id>/`: the one owner of its format. What a run writes (records,
seeds' lines, dropped records, transcripts, run.json and its totals), how it is read back, and
how a folder left by a crash is repaired for a resume; every whole-file write goes through one
atomic writer.

    folder.py   the entries and their paths, reading, and committing a seed (SeedOutcome)
    info.py     run.json (RunInfo), its totals counted in one place, a seed's line (SeedStatus)
    repair.py   a crashed folder made whole again: torn lines, records of unfinished seeds
    records.py  what a record's JSON says: its prompt, its instruction, the context around it
    atomic.py   the atomic writer
"""

from teams.runfolder.atomic import rewrite_lines, write_atomic
from teams.runfolder.folder import RunFolder, RunFolderError, SeedOutcome, list_runs
from teams.runfolder.info import RunInfo, RunStatus, RunTotals, SeedStatus, now
from teams.runfolder.records import chain_of, context_text, instruction_text, prompt_text
from teams.runfolder.repair import Repair, repair

__all__ = [
    "Repair",
    "RunFolder",
    "RunFolderError",
    "RunInfo",
    "RunStatus",
    "RunTotals",
    "SeedOutcome",
    "SeedStatus",
    "chain_of",
    "context_text",
    "instruction_text",
    "list_runs",
    "now",
    "prompt_text",
    "repair",
    "rewrite_lines",
    "write_atomic",
]
