"""The method's flows, as AutoGen teams: group chats where several agents talk (the specialists,
the Suggester and the Editor), a lone agent where one does (transformer, teacher, judge).

    runtime.py     what a run's flows share (FlowEnv), a seed's transcript and failures (SeedLog),
                   bounded attempts, running an agent or a team into the transcript
    transform.py   1. content transformation
    instruct.py    2. seed instruction generation: one specialist per instruction type
    refine.py      3. instruction refinement: Suggester/Editor rounds (the loop tool use runs too)
    answer.py      the teacher;  judge.py  the judge, scoring against a rubric
    seed.py        the method for one document seed, into candidate records
    prompts/       what each step's team is told, as YAML
    outputs.py     what agents answer with;  types.py  what the flows pass on and write
    checks/        the checks of drafts and answers, by answer format
    formatting.py  how an instruction reads;  records.py  a record's lineage
    skill.py       what a skill gives the flows (the Skill protocol)
"""

from teams.flows.answer import answer
from teams.flows.errors import one_line
from teams.flows.formatting import format_instruction, format_question
from teams.flows.instruct import generate_instructions, pick_specialists
from teams.flows.judge import judge_records, pick_judge
from teams.flows.records import record_meta
from teams.flows.refine import refine, suggest_and_edit
from teams.flows.runtime import (
    Attempts,
    Failure,
    FlowEnv,
    FlowSettings,
    SeedLog,
    json_hint,
    run_team,
    stream_into,
    weighted_pick,
)
from teams.flows.seed import NO_TRANSFORMATION, document_records
from teams.flows.skill import ROLES, RecordShape, Skill
from teams.flows.transform import IDENTITY, transform
from teams.flows.types import Instruction, Lineage, Message, Record, SeedTranscript, TeamTranscript, TranscriptMessage

__all__ = [
    "IDENTITY",
    "NO_TRANSFORMATION",
    "ROLES",
    "Attempts",
    "Failure",
    "FlowEnv",
    "FlowSettings",
    "Instruction",
    "Lineage",
    "Message",
    "Record",
    "RecordShape",
    "SeedLog",
    "SeedTranscript",
    "Skill",
    "TeamTranscript",
    "TranscriptMessage",
    "answer",
    "document_records",
    "format_instruction",
    "format_question",
    "generate_instructions",
    "judge_records",
    "json_hint",
    "one_line",
    "pick_judge",
    "pick_specialists",
    "record_meta",
    "refine",
    "run_team",
    "stream_into",
    "suggest_and_edit",
    "transform",
    "weighted_pick",
]
