"""Where a run's CPU goes, thread by thread: a sampler that reads each thread's CPU time from
/proc every second while a pipeline runs in this process (Linux only; elsewhere it records nothing).

`bench/throughput.py` prints it for each pipeline row: the event loop's CPU (the run's own thread)
and the near-duplicate search's threads' (the quality gate, its helper, embed-ahead), in all and in each
half of the run. With many seeds in flight, seeds advance together, so the gate has little to do
until the first of them finish; what it does after that shares the two cores with the loop.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import defaultdict
from typing import Any

# thread name prefixes, set in teams/engine/loop.py and teams/engine/near_duplicates.py
GATE_THREADS = ("quality-gate", "gate-helper", "embed-ahead")
STEP = 1.0  # seconds between samples


def stat_cpu(path: str) -> float:
    """CPU seconds (user + system) in a /proc stat file: a process's or a thread's."""
    with open(path, encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _role(thread: threading.Thread) -> str:
    if thread is threading.main_thread():
        return "loop"
    return next((prefix for prefix in GATE_THREADS if thread.name.startswith(prefix)), "other")


class ThreadCpu:
    """Samples this process's threads' CPU time by role (loop, quality-gate, gate-helper, embed-ahead, other)
    from `start` to `stop`. A thread that ends meanwhile keeps the CPU it used until the last
    sample before it ended: up to a second of each thread's is missed."""

    def __init__(self) -> None:
        self.totals: defaultdict[str, float] = defaultdict(float)
        self.steps: list[tuple[float, defaultdict[str, float]]] = []  # (seconds since start, CPU by role in the step)
        self._last: dict[tuple[int | None, int], float] = {}  # (ident, native id) -> CPU at the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-cpu-sampler", daemon=True)
        self._start = 0.0

    def start(self) -> None:
        if sys.platform != "linux":
            return
        self._start = time.perf_counter()
        self._sample(baseline=True)  # the CPU the threads alive now have used so far is left out
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(STEP):
            self._sample()

    def _cpu(self, thread: threading.Thread) -> float | None:
        try:
            return stat_cpu(f"/proc/self/task/{thread.native_id}/stat")
        except OSError:  # ended since `threading.enumerate`
            return None

    def _sample(self, baseline: bool = False) -> None:
        step: defaultdict[str, float] = defaultdict(float)
        for thread in threading.enumerate():
            if thread is self._thread or thread.native_id is None:
                continue
            cpu = self._cpu(thread)
            if cpu is None:
                continue
            key = (thread.ident, thread.native_id)
            step[_role(thread)] += cpu - self._last.get(key, cpu if baseline else 0.0)  # a new thread: all of it
            self._last[key] = cpu
        if not baseline:
            self.steps.append((time.perf_counter() - self._start, step))
            for role, cpu in step.items():
                self.totals[role] += cpu

    def report(self) -> dict[str, Any]:
        """CPU seconds by role, in all and in each half of the sampled time: with many seeds in
        flight, seeds advance together, so the gate's threads work mostly in the second half."""
        end = self.steps[-1][0] if self.steps else 0.0
        halves: list[defaultdict[str, float]] = [defaultdict(float), defaultdict(float)]
        for at, step in self.steps:
            for role, cpu in step.items():
                halves[at > end / 2][role] += cpu
        return {
            "cpu": {role: round(cpu, 1) for role, cpu in sorted(self.totals.items())},
            "halves": [{role: round(cpu, 1) for role, cpu in sorted(half.items())} for half in halves],
            "seconds": round(end, 1),
        }
