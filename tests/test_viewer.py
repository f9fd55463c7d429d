"""The run viewer in headless Chromium: it shows a record and its conversation, a seed holding
<script> (and an <img onerror>) runs nothing, and its screenshot is not blank."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teams.cli.app import app
from teams.report.viewer import render, safe_json
from tests.run_fixtures import SCRIPT_SEED, make_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium is not installed (make test installs it as root: apt-get install chromium); in CI this test runs",
)
SCRIPT_RECORD = "5c5c5c5c5c5c5c5c-main_idea-1"


def chromium(tmp_path: Path, url: str, *args: str) -> str:
    assert CHROMIUM, "chromium must be installed in CI (make test installs it)"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,900", *args, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_data_cannot_close_its_script_block() -> None:
    text = safe_json({"x": "</script><script>alert(1)</script><!-- \u2028 &amp;"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text


@needs_chromium
def test_viewer_shows_a_record_and_its_conversation_and_runs_no_seed_script(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs")
    result = CliRunner().invoke(app, ["runs", "view", "r1", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.stderr
    page = folder.path / "view.html"
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # no external asset
    assert html.count("<script") == 1 + 3 + 1  # the data block, one per transcript, the page's code: none from seeds

    url = f"{page.as_uri()}#record={SCRIPT_RECORD}"
    dom = chromium(tmp_path, url, "--dump-dom")
    root = re.search(r"<html[^>]*>", dom)
    assert root and 'data-ready="1"' in root.group(0)  # the page's own script ran to the end
    assert "data-pwned" not in root.group(0)  # neither the seed's <script> nor its <img onerror> ran
    assert "<title>agentinstruct · r1</title>" in dom and "PWNED</title>" not in dom
    assert "<img" not in dom
    detail = dom.split('id="detail"', 1)[1]
    assert SCRIPT_RECORD in detail
    escaped = SCRIPT_SEED.split(" gather")[0].replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in detail  # the seed's text is shown, as text
    conversations = detail.split("Conversations", 1)[1]
    assert "content_transformation" in conversations and "judge" in conversations
    assert "debate_transformer · StructuredMessage" in conversations and "100+40 tokens" in conversations
    assert "correctness" in detail and "score 4" in detail  # the judge's scores

    shot = tmp_path / "viewer.png"
    chromium(tmp_path, url, f"--screenshot={shot}")
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, badges and panels, not a blank page
    assert max(count for count, _ in colours) < 0.9 * 1280 * 900


def test_viewer_lists_dropped_records_and_embeds_every_transcript(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs")
    html = render(folder)
    assert html.count('type="application/json" id="t-') == 3
    assert "a1b2c3d4e5f60718-main_idea-2" in html  # the judge's dropped record is browsable too
    assert SCRIPT_SEED not in html  # only its escaped form is in the file
