"""What a run made, read from its folder alone: the figures (`runs stats`), the dataset in the
formats trainers read (`export`), and one HTML page to browse it all (`runs view`).

    stats.py    records per skill and subcategory, check pass rates, judge scores, drops, tokens, diversity
    export.py   JSONL, Parquet, ShareGPT, a Hugging Face DatasetDict
    viewer.py   the self-contained HTML viewer (viewer_template.html)
"""

from teams.report.export import ExportError, export_run
from teams.report.stats import RunStats, run_stats
from teams.report.viewer import render, write_viewer

__all__ = ["ExportError", "RunStats", "export_run", "render", "run_stats", "write_viewer"]
