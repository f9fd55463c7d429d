"""Time a new user's first `make demo`: a fresh clone in a temp dir, its own venv, an empty pip
cache (so llama-cpp-python really compiles), then the demo. Prints each step's wall time.

    .venv/bin/python bench/fresh_install.py [--repo .] [--keep]

It takes about as long as it measures (minutes, both cores): run it once per Makefile change.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, str]:
    """Run one step, its output teed to `log`; its wall seconds and output (exit on failure)."""
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - start
    log.write_text(done.stdout)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} exited {done.returncode} after {seconds:.0f} s (log: {log})")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the git checkout to clone (its HEAD)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="agentinstruct-fresh-"))
    clone = work / "agentinstruct"
    subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
    head = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    env = {k: v for k, v in os.environ.items() if k not in {"CMAKE_ARGS", "VIRTUAL_ENV", "PYTHONPATH"}}
    env["PIP_CACHE_DIR"] = str(work / "pip-cache")  # empty: nothing built earlier is reused
    env["WHEELS"] = str(work / "wheels")  # nor the Makefile's own llama-cpp-python wheel

    install, out = timed(["make", ".venv/.installed"], clone, env, work / "install.log")
    demo, _ = timed(["make", "demo"], clone, env, work / "demo.log")
    print(f"commit {head[:10]}, {os.cpu_count()} cores, empty pip cache ({work})")
    for line in out.splitlines():
        if re.match(r"(llama-cpp-python built|other dependencies installed) in", line):
            print(f"  {line}")
    print(f"install (make .venv/.installed): {install / 60:5.1f} min")
    print(f"demo    (make demo):             {demo / 60:5.1f} min")
    print(f"total:                           {(install + demo) / 60:5.1f} min")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
