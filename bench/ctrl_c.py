"""How soon `agentinstruct run` stops after Ctrl-C early in a run: SIGINT sent at several delays
after the start (while it imports, loads MiniLM, starts its seeds), against the fake endpoint;
prints each delay's exit code and the seconds from the signal to the exit.

    .venv/bin/python bench/ctrl_c.py [--delays 2,3,4,6,8,10]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="2,3,4,6,8,10", help="seconds after the start, comma-separated")
    args = parser.parse_args()
    from tests.fake_openai import FakeOpenAIServer
    from tests.fakes import competent_responder

    tmp = Path(tempfile.mkdtemp(prefix="agentinstruct-ctrl-c-"))
    seeds = tmp / "seeds"
    seeds.mkdir()
    for i in range(12):
        (seeds / f"s{i}.txt").write_text(f"Seed number {i}: owls hunt at night and eat about {i} mice.")
    print(f"{'SIGINT after':>12}  {'exit':>4}  seconds to exit")
    with FakeOpenAIServer(competent_responder, latency=0.05) as server:
        for delay in (float(d) for d in args.delays.split(",")):
            command = [sys.executable, "-m", "teams.cli", "run", "reading_comprehension", "--seeds", str(seeds),
                       "--model", "m", "--base-url", server.base_url, "--out", str(tmp), "--run-id", f"c{delay}",
                       "--concurrency", "1"]  # fmt: skip
            process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            sent = time.monotonic()
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=120)
                print(f"{delay:>11.1f}s  {code:>4}  {time.monotonic() - sent:.2f}")
            except subprocess.TimeoutExpired:
                process.kill()
                print(f"{delay:>11.1f}s  none  over 120 s (killed)")


if __name__ == "__main__":
    main()
