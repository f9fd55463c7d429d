"""`agentinstruct runs view`: one self-contained HTML file to browse a run.

No network and no external asset: the CSS and JavaScript are inline, the data is embedded as
JSON in `<script type="application/json">` blocks (with `<`, `>`, `&` and line separators
escaped, so no text can close the block), and the page builds its DOM with `textContent`,
never `innerHTML`: a seed holding `<script>` shows as text and runs nothing. Records are
rendered a page at a time and each seed's transcripts sit in their own block, parsed only when
a record of that seed is opened, so a run of 10,000 records stays quick.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from teams.report.stats import run_stats
from teams.runfolder.folder import RunFolder

TEMPLATE = Path(__file__).parent / "viewer_template.html"
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SEED_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def safe_json(value: Any) -> str:
    """JSON that can sit inside a <script> block: nothing in it can end the block or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _UNSAFE[m.group(0)], text)


def page_data(folder: RunFolder) -> dict[str, Any]:
    info = folder.info()
    kept, dropped, seeds = folder.records(), folder.dropped(), folder.seeds()
    records = [{**r, "kept": True} for r in kept] + [{**r, "kept": False} for r in dropped]
    return {
        "run": {
            "id": info.run_id,
            "skill": info.skill,
            "status": info.status,
            "started_at": info.started_at,
            "models": info.models,
            "totals": info.totals.model_dump(),
        },
        "stats": run_stats(folder, with_diversity=False, records=kept, seeds=seeds, dropped_rows=dropped).model_dump(),
        "seeds": {s["id"]: s for s in seeds},
        "records": records,
    }


def render(folder: RunFolder) -> str:
    data = page_data(folder)
    blocks = []
    for seed_id in data["seeds"]:
        path = folder.transcript_path(seed_id)
        if _SEED_ID.match(seed_id) and path.is_file():
            try:
                transcript = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue  # a torn file: the page says the seed has no transcript
            blocks.append(f'<script type="application/json" id="t-{seed_id}">{safe_json(transcript)}</script>')
    title = f"agentinstruct · {data['run']['id']}"
    parts = {
        "TITLE": re.sub(r"[<>&\"']", "", title),
        "DATA": safe_json(data),
        "TRANSCRIPTS": "\n".join(blocks),
    }
    # one pass, so a placeholder written inside the data is never expanded
    return re.sub(
        r"\{\{(TITLE|DATA|TRANSCRIPTS)\}\}", lambda m: parts[m.group(1)], TEMPLATE.read_text(encoding="utf-8")
    )


def write_viewer(folder: RunFolder, out: Path | None = None) -> Path:
    target = out or folder.view_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(folder), encoding="utf-8")
    return target
