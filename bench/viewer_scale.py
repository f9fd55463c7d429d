"""How the run viewer scales: build synthetic runs of 100 and 10,000 records (4 per seed, each
seed with a transcript of ten teams), write `runs view` for each and time headless Chromium
loading the page and opening one record with its conversations. Prints the figures.

    .venv/bin/python bench/viewer_scale.py [--records 10000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from teams.flows.types import Record, SeedTranscript, TeamTranscript, TranscriptMessage  # noqa: E402
from teams.report.viewer import write_viewer  # noqa: E402
from teams.runfolder import RunFolder, RunInfo, RunTotals, SeedStatus  # noqa: E402

PASSAGE = " ".join(f"Sentence {i} of a passage about bees, hives and the honey they make." for i in range(25))


def build(out: Path, n_records: int) -> RunFolder:
    folder = RunFolder.create(out, f"scale-{n_records}")
    per_seed = 4
    for s in range(n_records // per_seed):
        seed_id = f"{s:016x}"
        for k in range(per_seed):
            key = f"main_idea-{k}"
            folder.append_record(
                Record(
                    id=f"{seed_id}-{key}",
                    skill="reading_comprehension",
                    subcategory=["main_idea", "strengthen", "weaken", "inference"][k],
                    messages=[
                        {"role": "user", "content": f"Passage:\n{PASSAGE}\n\nQuestion:\nWhat is item {s}.{k} about?"},  # type: ignore[list-item]
                        {"role": "assistant", "content": f"It is about bees ({s}.{k}).\n\nFinal answer: A"},  # type: ignore[list-item]
                    ],
                    meta={
                        "seed_id": seed_id,
                        "instruction_key": key,
                        "instruction": f"What is item {s}.{k} about?",
                        "judge": {
                            "score": 3 + (s + k) % 3,
                            "scores": {"correctness": 4},
                            "reasons": {"correctness": "ok"},
                        },
                        "transcript": f"transcripts/{seed_id}.json",
                    },
                )
            )
        teams = [
            TeamTranscript(
                flow="answer",
                step=f"answer:main_idea-{t}",
                participants=[{"name": "teacher", "persona": "teacher", "model": "m", "system_message": "Answer."}],
                messages=[
                    TranscriptMessage(source="user", type="TextMessage", content=f"Passage:\n{PASSAGE}"),
                    TranscriptMessage(
                        source="teacher",
                        type="StructuredMessage",
                        content={"final_answer": "A"},
                        prompt_tokens=300,
                        completion_tokens=60,
                    ),
                ],
            )
            for t in range(10)
        ]
        folder.write_transcript(SeedTranscript(seed_id=seed_id, source=f"doc{s}.md", teams=teams))
        folder.append_seed(SeedStatus(id=seed_id, source=f"doc{s}.md", status="done", records=per_seed, tokens=3600))
    seeds = n_records // per_seed
    folder.write_info(
        RunInfo(run_id=folder.path.name, skill="reading_comprehension", status="completed",
                totals=RunTotals(seeds=seeds, seeds_done=seeds, records=n_records, tokens=seeds * 3600))
    )  # fmt: skip
    return folder


def open_in_chromium(page: Path, record_id: str, profile: Path) -> tuple[float, bool, float]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    start = time.perf_counter()
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--dump-dom", f"{page.as_uri()}#record={record_id}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    shown = 'data-ready="1"' in done.stdout and "answer:main_idea-0" in done.stdout.split('id="detail"', 1)[-1]
    ready = re.search(r'data-ready-ms="(\d+)"', done.stdout)
    return elapsed, shown, int(ready.group(1)) / 1000 if ready else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, args.records):
            folder = build(Path(tmp), n)
            start = time.perf_counter()
            page = write_viewer(folder)
            written = time.perf_counter() - start
            record_id = f"{(n // 4 - 1):016x}-main_idea-0"
            seconds, shown, ready = open_in_chromium(page, record_id, Path(tmp) / f"profile-{n}")
            size = page.stat().st_size / 1e6
            print(
                f"{n:>6} records: page {size:.1f} MB, written in {written:.1f} s; in Chromium the page was ready, the "
                f"last record open with its conversations, {ready:.1f} s after navigation (shown: {shown}; "
                f"the whole headless run, DOM dump included, {seconds:.1f} s)"
            )


if __name__ == "__main__":
    main()
