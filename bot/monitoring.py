"""GET /healthz and GET /metrics over HTTP, and starting an aiohttp server with a clear error."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import Metrics

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0  # seconds the database has to answer before the bot counts as unhealthy


class ListenError(Exception):
    """The server cannot listen where it was told to; the message says what to change."""


class Monitoring:
    """The health and metrics endpoints of one process."""

    def __init__(self, engine: AsyncEngine, metrics: Metrics, role: str) -> None:
        self.engine = engine
        self.metrics = metrics
        self.role = role

    def install(self, app: web.Application) -> None:
        """Add GET /healthz and GET /metrics to `app`."""
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when the database answers a trivial query in time, else 503."""
        healthy = await database_answers(self.engine)
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": "ok" if healthy else "unreachable",
            "role": self.role,
            "pid": os.getpid(),
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Every metric of this process, in Prometheus' text format."""
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = self.metrics.content_type
        return response


async def database_answers(engine: AsyncEngine, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Whether the database runs `SELECT 1` within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, the answer is "not healthy"
        logger.warning("health check: the database did not answer (%s)", type(error).__name__)
        return False
    return True


def monitoring_app(engine: AsyncEngine, metrics: Metrics, role: str) -> web.Application:
    """An aiohttp app serving only /healthz and /metrics."""
    app = web.Application()
    Monitoring(engine, metrics, role).install(app)
    return app


@asynccontextmanager
async def listening(
    app: web.Application, host: str, port: int, port_setting: str
) -> AsyncIterator[web.AppRunner]:
    """Serve `app` on host:port until the block ends; ListenError names `port_setting`."""
    runner = web.AppRunner(app, access_log=None)  # request paths may carry secrets
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        if error.errno == errno.EADDRINUSE:
            raise ListenError(
                f"port {port} is already in use; set {port_setting} to a free port"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        yield runner
    finally:
        await runner.cleanup()
