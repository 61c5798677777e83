"""Delivery-only processes for `python -m bot webhook --workers N`.

One process owns the webhook: it receives every update, runs the conversation, the broadcast
service and housekeeping, and drains the delivery queue too. The other N-1 processes, started
here, only drain the queue. Every one of them claims its rows with DeliveryRepository.claim(),
which leases each row to a single worker, so no message goes out twice; each sends at 1/N of
DELIVERY_RATE, so together they keep to it.

The processes are started with "spawn" (a fresh interpreter: no event loop or connections copied
from the parent) and ignore SIGINT: on Ctrl+C or SIGTERM the parent stops them with SIGTERM,
they finish the sends in flight, give back the rest of their batch and exit. A worker that dies
is started again; one whose parent died stops by itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from multiprocessing.context import SpawnProcess

from bot.app import build_delivery_worker, delivery_sender
from bot.i18n import Catalog
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.monitoring import ListenError, listening, monitoring_app
from bot.settings import Settings
from storage.db import create_engine, create_sessionmaker

logger = logging.getLogger(__name__)

RESTART_DELAY = 5.0  # seconds before a crashed worker is started again
STOP_TIMEOUT = 30.0  # seconds a worker has to finish its sends after SIGTERM
EXIT_USAGE = 2  # a worker that exits with this cannot be helped by a restart (bad setting)


class DeliveryProcesses:
    """`count` delivery-only processes, each sending at 1/`total` of DELIVERY_RATE."""

    def __init__(self, settings: Settings, token: str, count: int, total: int) -> None:
        self.settings = settings
        self.token = token
        self.count = count
        self.total = total
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[int, SpawnProcess] = {}
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers running now."""
        return [process.pid for process in self._processes.values() if process.pid is not None]

    def start(self) -> None:
        """Start every worker."""
        for number in range(1, self.count + 1):
            self._start(number)

    def _start(self, number: int) -> None:
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, self.token, number, self.total, os.getpid()),
            name=f"delivery-{number}",
        )
        # Started with SIGINT ignored, which the new interpreter keeps: Ctrl+C reaches the whole
        # process group, but only the parent may decide when its workers stop.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        self._processes[number] = process
        logger.info("delivery worker %d started (pid %s)", number, process.pid)

    async def watch(self) -> None:
        """Restart a worker that died, until stop(); a bad setting is reported, not retried."""
        while not self._stopping:
            await asyncio.sleep(0.5)
            for number, process in list(self._processes.items()):
                if self._stopping or process.exitcode is None:
                    continue
                del self._processes[number]
                if process.exitcode == EXIT_USAGE:
                    logger.error("delivery worker %d cannot run; it is not restarted", number)
                    continue
                logger.error(
                    "delivery worker %d exited with code %s; restarting it in %gs",
                    number,
                    process.exitcode,
                    RESTART_DELAY,
                )
                await asyncio.sleep(RESTART_DELAY)
                if not self._stopping:
                    self._start(number)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every worker, wait for them to finish, and kill any that does not in time."""
        self._stopping = True
        for process in self._processes.values():
            if process.exitcode is None:
                process.terminate()
        processes = list(self._processes.values())
        await asyncio.gather(*(asyncio.to_thread(process.join, timeout) for process in processes))
        for number, process in self._processes.items():
            if process.exitcode is None:
                logger.error("delivery worker %d did not stop in %gs; killing it", number, timeout)
                process.kill()
            process.join()
            process.close()
        self._processes.clear()


@asynccontextmanager
async def delivery_processes(
    settings: Settings, token: str, total: int
) -> AsyncIterator[DeliveryProcesses]:
    """Run total-1 delivery-only processes while the block runs (none when total is 1)."""
    workers = DeliveryProcesses(settings, token, total - 1, total)
    if total <= 1:
        yield workers
        return
    workers.start()
    watcher = asyncio.create_task(workers.watch(), name="delivery-processes")
    try:
        yield workers
    finally:
        await workers.stop()
        watcher.cancel()
        with suppress(asyncio.CancelledError):
            await watcher


def worker_main(settings: Settings, token: str, number: int, total: int, parent: int) -> None:
    """A delivery-only process's entry point: drain the queue until SIGTERM."""
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_worker(settings, token, number, total, parent))
    except ListenError as error:
        logger.error("delivery worker %d: %s", number, error)
        sys.exit(EXIT_USAGE)


async def run_worker(settings: Settings, token: str, number: int, total: int, parent: int) -> None:
    """Send due deliveries at 1/`total` of DELIVERY_RATE until SIGTERM or the parent is gone.

    With METRICS_PORT set, worker k serves /healthz and /metrics on METRICS_PORT + k - 1.
    """
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    catalog = Catalog(settings.default_locale)
    engine = create_engine(settings.database_url)
    metrics = Metrics()
    sender = delivery_sender(settings, token)
    worker = build_delivery_worker(
        settings, create_sessionmaker(engine), catalog, sender, metrics, processes=total
    )
    async with AsyncExitStack() as resources:
        resources.push_async_callback(engine.dispose)
        if settings.metrics_port is not None:
            port = settings.metrics_port + number - 1
            app = monitoring_app(engine, metrics, role="delivery")
            await resources.enter_async_context(
                listening(app, settings.metrics_listen, port, "METRICS_PORT")
            )
        await sender.initialize()
        resources.push_async_callback(sender.shutdown)
        worker.start()
        resources.push_async_callback(worker.stop)
        logger.info("delivery worker %d: sending at %g messages/s", number, worker.policy.rate)
        while not stop.is_set() and os.getppid() == parent:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    logger.info("delivery worker %d stopped", number)
