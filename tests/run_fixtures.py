"""A small, hand-made run folder (records, seeds, transcripts, dropped) for the export, stats
and viewer tests: real files in the run folder's format, no model involved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from teams.flows.types import SeedTranscript, TeamTranscript, TranscriptMessage
from teams.runfolder import RunFolder, RunInfo, RunTotals, SeedStatus

SCRIPT_SEED = (
    'The bees <script>document.documentElement.setAttribute("data-pwned", "1"); document.title = "PWNED"</script>'
    " gather nectar <img src=x onerror=\"document.documentElement.setAttribute('data-pwned', '2')\"> at dawn."
    " </script><!-- \u2028 end"
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CONVERT_TOOL = {
    "type": "function",
    "function": {
        "name": "convert",
        "description": "Convert an amount between currencies.",
        "parameters": {
            "type": "object",
            "properties": {"amount": {"type": "number"}, "to": {"type": "string"}},
            "required": ["amount", "to"],
        },
    },
}


def rc_record(
    seed_id: str, key: str, question: str, passage: str, score: float, subcategory: str = "main_idea"
) -> dict[str, Any]:
    return {
        "id": f"{seed_id}-{key}",
        "skill": "reading_comprehension",
        "subcategory": subcategory,
        "messages": [
            {
                "role": "user",
                "content": f"Read the passage and answer the question.\n\nPassage:\n{passage}\n\nQuestion:\n{question}",
            },
            {"role": "assistant", "content": "The passage says so.\n\nFinal answer: A"},
        ],
        "meta": {
            "seed_id": seed_id,
            "seed_source": "bees.md",
            "transformation": "debate",
            "question_type": subcategory,
            "instruction_key": key,
            "instruction": question,
            "refinement": None,
            "judge": {"score": score, "scores": {"correctness": int(score)}, "reasons": {"correctness": "fine"}},
            "tokens": {"answer": 50, "seed_total": 900, "seed_records": 2, "judge": 30},
            "transcript": f"transcripts/{seed_id}.json",
        },
    }


def tool_record(seed_id: str) -> dict[str, Any]:
    return {
        "id": f"{seed_id}-weather-1",
        "skill": "tool_use",
        "subcategory": "single_api_all_parameters",
        "messages": [
            {"role": "system", "content": "You can call functions."},
            {"role": "user", "content": "What is the weather in Lyon?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'},
            {"role": "assistant", "content": "It is 21 degrees in Lyon."},
        ],
        "tools": [WEATHER_TOOL, CONVERT_TOOL],
        "meta": {
            "seed_id": seed_id,
            "seed_source": "api.py",
            "tokens": {"seed_total": 400, "seed_records": 1},
            "transcript": f"transcripts/{seed_id}.json",
        },
    }


def transcript(seed_id: str, source: str, passage: str) -> SeedTranscript:
    return SeedTranscript(
        seed_id=seed_id,
        source=source,
        teams=[
            TeamTranscript(
                flow="content_transformation",
                step="transform:debate",
                participants=[
                    {
                        "name": "debate_transformer",
                        "persona": "debate_transformer",
                        "model": "fake",
                        "system_message": "You write debates.",
                    }
                ],
                messages=[
                    TranscriptMessage(
                        source="user", type="TextMessage", content=f"Rewrite this text.\n\nText:\n{passage}"
                    ),
                    TranscriptMessage(
                        source="debate_transformer",
                        type="StructuredMessage",
                        content={"passage": f"A: {passage}"},
                        prompt_tokens=100,
                        completion_tokens=40,
                    ),
                ],
            ),
            TeamTranscript(
                flow="judge",
                step="judge:main_idea-1",
                participants=[{"name": "judge", "persona": "judge", "model": "fake"}],
                messages=[
                    TranscriptMessage(
                        source="judge",
                        type="StructuredMessage",
                        content={"correctness": {"reason": "Right answer.", "score": 5}},
                        prompt_tokens=80,
                        completion_tokens=20,
                    )
                ],
            ),
        ],
    )


def make_run(out: Path, run_id: str = "r1", extra_records: list[dict[str, Any]] | None = None) -> RunFolder:
    """Two reading-comprehension seeds (one holding a <script> tag), one tool-use record, one
    dropped record and one failed seed."""
    folder = RunFolder.create(out, run_id)
    bees, script, api = "a1b2c3d4e5f60718", "5c5c5c5c5c5c5c5c", "0a0a0a0a0a0a0a0a"
    records = [
        rc_record(
            bees,
            "main_idea-1",
            "What is the passage mainly about?",
            "Honeybees live in colonies of up to 60,000 bees.",
            4.5,
        ),
        rc_record(
            bees,
            "strengthen-1",
            "Which statement most strengthens the claim about colonies?",
            "Honeybees live in colonies of up to 60,000 bees.",
            3.25,
            "strengthen",
        ),
        rc_record(script, "main_idea-1", f"What do the bees do? {SCRIPT_SEED}", SCRIPT_SEED, 4.0),
        tool_record(api),
        *(extra_records or []),
    ]
    for record in records:
        folder.records_path.open("a").write(json.dumps(record) + "\n")
    dropped = {
        **rc_record(
            bees, "main_idea-2", "What is the passage mainly about, really?", "Honeybees live in colonies.", 2.0
        ),
        "skill": "reading_comprehension",
    }
    dropped["meta"]["dropped"] = {"by": "judge", "reason": "score 2.0 below 3.0"}
    (folder.path / "dropped.jsonl").write_text(json.dumps(dropped) + "\n")
    statuses = [
        SeedStatus(
            id=bees,
            source="bees.md",
            status="done",
            records=2,
            tokens=900,
            dropped={"judge": 1},
            failures=[
                {"flow": "answer", "step": "answer:weaken-1", "reason": "final answer names none of the options"}
            ],
        ),
        SeedStatus(id=script, source="script.md", status="done", records=1, tokens=700),
        SeedStatus(id=api, source="api.py", status="done", records=1, tokens=400),
        SeedStatus(
            id="ffffffffffffffff",
            source="empty.md",
            status="failed",
            tokens=120,
            reason="instruction_generation: no answer",
            failures=[{"flow": "instruction_generation", "step": "w:main_idea", "reason": "no answer"}],
        ),
    ]
    for status in statuses:
        folder.append_seed(status)
    folder.write_transcript(transcript(bees, "bees.md", "Honeybees live in colonies of up to 60,000 bees."))
    folder.write_transcript(transcript(script, "script.md", SCRIPT_SEED))
    folder.write_transcript(transcript(api, "api.py", "def get_weather(city): ..."))
    info = RunInfo(
        run_id=run_id,
        skill="reading_comprehension",
        status="completed_with_failures",
        models={"teacher": "fake"},
        totals=RunTotals(
            seeds=4, seeds_done=3, seeds_failed=1, records=len(records), tokens=2120, dropped={"judge": 1}
        ),
    )
    folder.write_info(info)
    return folder
