"""The playground's webhook delivery: like Telegram, post each update to the bot's URL, in order.

An update is forgotten once the bot answers 2xx; any other answer, or no answer, and it is
posted again shortly (Telegram retries too), so nothing is lost while the bot restarts.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from bot.playground.state import Playground

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_DELAY = 0.2  # seconds before an update the bot did not accept is posted again


async def post_updates(playground: Playground) -> None:
    """Post pending updates to the playground's webhook, one at a time, until cancelled."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while True:
            webhook, update = await playground.next_webhook_update()
            headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
            try:
                async with http.post(webhook.url, json=update, headers=headers) as response:
                    accepted = 200 <= response.status < 300
                    if not accepted:
                        logger.info("webhook answered %d; retrying", response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                logger.info("webhook unreachable (%s); retrying", type(error).__name__)
                accepted = False
            if accepted:
                playground.webhook_delivered(update["update_id"])
            else:
                await asyncio.sleep(RETRY_DELAY)
