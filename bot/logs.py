"""Logging set-up, shared by the command line and the processes it starts."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """Readable logs; HTTP client logs are quiet because their URLs contain the bot token."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
