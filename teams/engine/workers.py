"""Seeds shared out to worker processes on this machine: `agentinstruct run ... --workers N`.

One Python process spends about 2 ms of CPU on every model call (AutoGen's agents and group
chats, the openai SDK, HTTP), so against a fast endpoint it is CPU-bound at some 500 calls a
second, whatever the concurrency (`bench/throughput.py`). N processes give up to N times that.

Each worker process runs a SeedWorker (teams.engine.shards) on the seeds the driver sends it, as
many at once as it is sent; messages go over pipes, read by the event loop and written from a
thread, so a large transcript never blocks the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from loguru import logger

from retrieval.seeds import Seed, SeedError
from teams.engine.config import share_limits
from teams.engine.prepare import PreparedRun
from teams.engine.shards import SeedWorker, Shards, WorkerAnswer
from teams.flows.errors import one_line
from teams.runfolder.folder import SeedOutcome

READY = "ready"
STARTUP_SECONDS = 300  # imports, personas and (with the embedded model) loading it


class WorkerError(SeedError):
    """A worker process that died or hit a bug: one line for the user; the run can be resumed."""


class Channel:
    """One end of the pipe between the driver and a worker, on an event loop: messages in through
    the loop's reader, messages out through a thread, so a large transcript never blocks the loop
    (and two ends each blocked on sending to the other cannot happen)."""

    def __init__(self, connection: Connection, on_message: Callable[[Any], None], on_closed: Callable[[], None]):
        self.connection = connection
        self.on_message = on_message
        self.on_closed = on_closed
        self.loop = asyncio.get_running_loop()
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.sender = threading.Thread(target=self._send_all, daemon=True)
        self.sender.start()
        self.open = True
        self.loop.add_reader(connection.fileno(), self._receive)

    def send(self, message: Any) -> None:
        self.outbox.put(message)

    def _send_all(self) -> None:
        while (message := self.outbox.get()) is not None:
            try:
                self.connection.send(message)
            except OSError:  # the other end is gone; the reader reports it
                return

    def _receive(self) -> None:
        try:
            while self.open and self.connection.poll():
                self.on_message(self.connection.recv())
        except (EOFError, OSError):
            self._stop()
            self.on_closed()

    def _stop(self) -> None:
        if self.open:
            self.open = False
            self.loop.remove_reader(self.connection.fileno())
            self.outbox.put(None)

    def close(self) -> None:
        self._stop()
        self.sender.join(timeout=5)
        self.connection.close()


def serve(
    connection: Connection, config_json: str, run_id: str, cache_dir: str | None, fresh: list[str] | None = None
) -> None:
    """A worker process's main: (ticket, seed, skill) in, (ticket, WorkerAnswer, error) out,
    until the driver closes the pipe (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle; it closes the pipe
    try:
        try:
            worker = SeedWorker(config_json, run_id, cache_dir, fresh or [])
        except Exception as error:  # the driver validated the same config, so this is rare: one line, no traceback
            connection.send(one_line(error))
            raise SystemExit(1) from None
        connection.send(READY)
    except OSError:  # the driver is gone (stopped while this worker started): nothing to do
        raise SystemExit(0) from None
    asyncio.run(_serve(connection, worker))


async def _serve(connection: Connection, worker: SeedWorker) -> None:
    closed = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    channel: Channel

    async def answer(ticket: int, seed: Seed, skill: str) -> None:
        try:
            channel.send((ticket, await worker.process(seed, skill), None))
        except Exception as error:  # a bug: the driver stops the run with this line
            channel.send((ticket, None, f"seed {seed.id}: {one_line(error)}"))

    def on_message(message: tuple[int, Seed, str]) -> None:
        task = asyncio.ensure_future(answer(*message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    channel = Channel(connection, on_message, closed.set)
    await closed.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await worker.pool.close()
    channel.close()


class LocalWorkers(Shards):
    """A SeedProcessor that sends each seed to the least busy of `count` worker processes."""

    def __init__(self, run: PreparedRun, count: int):
        super().__init__(run, count)
        self.count = count
        self.config_json = share_limits(run.worker_config, count).model_dump_json()
        self.run_id = run.run_id
        cache = run.pool.cache
        self.cache_dir = str(cache.directory) if cache is not None else None
        self.fresh = sorted(run.retried)
        self.in_flight = run.config.concurrency  # the driver keeps `concurrency` seeds in flight over all workers
        self.processes: list[Any] = []
        self.connections: list[Connection] = []
        self.channels: list[Channel] = []
        self.pending: dict[int, tuple[int, asyncio.Future[WorkerAnswer]]] = {}
        self._tickets = itertools.count()
        self._ready = False

    def launch(self) -> None:
        """Start the worker processes (once); `wait_ready` then waits for them."""
        if self.processes:
            return
        # spawn, not fork: a forked child would inherit the driver's event loop, threads and open SQLite handles
        context = multiprocessing.get_context("spawn")
        # Ctrl-C is the driver's to handle: the workers inherit SIGINT ignored, even while importing
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:
            for index in range(self.count):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=serve, args=(theirs, self.config_json, self.run_id, self.cache_dir, self.fresh),
                    name=f"agentinstruct-worker-{index}", daemon=True,
                )  # fmt: skip
                process.start()
                theirs.close()
                self.processes.append(process)
                self.connections.append(ours)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        logger.info("{} worker processes", self.count)

    async def start(self) -> None:
        """Launch the workers and wait, in a thread, until each is ready."""
        if not self._ready:
            self.launch()
            await asyncio.to_thread(self.wait_ready)

    def wait_ready(self) -> None:
        """Block until every worker has built its skills and models (seconds: imports, personas);
        a worker that cannot fails the run now, before any seed is sent."""
        for index, connection in enumerate(self.connections):
            self._wait_ready(index, connection)
        self._ready = True

    def _wait_ready(self, index: int, connection: Connection) -> None:
        try:
            if not connection.poll(STARTUP_SECONDS):
                raise WorkerError(f"worker process {index} did not start within {STARTUP_SECONDS}s")
            message = connection.recv()
        except (EOFError, OSError):
            message = f"ended at startup (exit code {self.processes[index].exitcode})"
        if message != READY:
            self.kill()
            raise WorkerError(f"worker process {index}: {message}")

    def kill(self) -> None:
        for process in self.processes:
            process.kill()
            process.join()

    def _open_channels(self) -> None:
        """On the running loop, at the first seed (the loop does not exist before the run)."""
        for index, connection in enumerate(self.connections):
            self.channels.append(
                Channel(connection, self._on_message, lambda index=index: self._on_closed(index))  # type: ignore[misc]
            )

    def _on_message(self, message: tuple[int, WorkerAnswer | None, str | None]) -> None:
        ticket, answer, error = message
        entry = self.pending.pop(ticket, None)  # None: a seed no longer awaited (a budget stop cancels them)
        if entry is None or entry[1].done():
            return
        future = entry[1]
        if error is not None or answer is None:
            future.set_exception(WorkerError(f"a worker process failed on {error}"))
        else:
            future.set_result(answer)

    def _on_closed(self, index: int) -> None:
        process = self.processes[index]
        process.join(timeout=1)
        error = WorkerError(f"worker process {index} ended (exit code {process.exitcode}); resume the run to carry on")
        for ticket, (worker, future) in list(self.pending.items()):
            if worker == index:
                del self.pending[ticket]
                if not future.done():
                    future.set_exception(error)

    async def __call__(self, seed: Seed) -> SeedOutcome:
        if not self.channels:
            self._open_channels()
        open_workers = [i for i in self.busy if self.channels[i].open]
        if not open_workers:
            raise WorkerError("every worker process has ended; resume the run to carry on")
        return await self.dispatch(seed, self._send, open_workers)

    async def _send(self, index: int, seed: Seed, skill: str) -> WorkerAnswer:
        ticket = next(self._tickets)
        future: asyncio.Future[WorkerAnswer] = asyncio.get_running_loop().create_future()
        self.pending[ticket] = (index, future)
        try:
            self.channels[index].send((ticket, seed, skill))
            return await future
        finally:
            self.pending.pop(ticket, None)

    async def close(self) -> None:
        """Close the pipes (each worker then stops) and wait for the processes; kill stragglers."""
        for channel in self.channels:
            channel.close()
        for connection in self.connections[len(self.channels) :]:
            connection.close()
        for process in self.processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()
                process.join()
