"""Simulated users for tests and benchmarks: they talk to the playground over its HTTP API."""

from __future__ import annotations

import time
from typing import Any

import httpx

JSON = dict[str, Any]


class PlaygroundClient:
    """One connection to a playground's /api."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/api", timeout=60)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self.http.aclose()

    async def call(self, method: str, path: str, body: JSON | None = None, **params: Any) -> Any:
        """One API request; raises with the playground's message on a 4xx."""
        response = await self.http.request(method, path, json=body, params=params or None)
        if response.status_code >= 400:
            raise PlaygroundError(response.json().get("error", response.text))
        return response.json()

    async def add_user(self, first_name: str, language_code: str | None = None) -> SimulatedUser:
        """A new simulated Telegram user; their cursor starts at the current event."""
        user = await self.call("POST", "/users", {"first_name": first_name,
                                                  "language_code": language_code})  # fmt: skip
        return SimulatedUser(self, user, cursor=await self.last_event_seq())

    async def last_event_seq(self) -> int:
        """The sequence number of the newest event."""
        events = await self.call("GET", "/events", after=0, timeout=0)
        return events[-1]["seq"] if events else 0

    async def events(self, after: int, timeout: float = 10) -> list[JSON]:
        """Events after `after`, long-polling up to `timeout` seconds for the first."""
        return await self.call("GET", "/events", after=after, timeout=timeout)

    async def add_fault(self, kind: str, **options: Any) -> None:
        """Inject a fault (429, 403, 5xx or slow) into the Bot API."""
        await self.call("POST", "/faults", {"kind": kind, **options})

    async def set_rate(self, per_second: float = 0, per_chat: float = 0) -> None:
        """Make the Bot API enforce Telegram-like send limits."""
        await self.call("POST", "/rate", {"per_second": per_second, "per_chat": per_chat})

    async def stats(self) -> JSON:
        """Bot API call counts, error counts and update-to-answer latencies."""
        return await self.call("GET", "/stats")


class PlaygroundError(Exception):
    """The playground refused a simulated user's action."""


class SimulatedUser:
    """A person in the playground: sends, presses, and reads what the bot answered."""

    def __init__(self, client: PlaygroundClient, profile: JSON, cursor: int = 0) -> None:
        self.client = client
        self.profile = profile
        self.id: int = profile["id"]
        self.cursor = cursor

    async def send(self, text: str, chat_id: int | None = None) -> JSON:
        """Type and send `text` (a leading /command gets its entity)."""
        return await self.client.call("POST", "/send", {"user_id": self.id, "text": text,
                                                        "chat_id": chat_id})  # fmt: skip

    async def send_kind(self, kind: str, caption: str = "") -> JSON:
        """Send a sticker, voice, photo, location, document or contact (a photo with a caption)."""
        return await self.client.call(
            "POST", "/send_kind", {"user_id": self.id, "kind": kind, "caption": caption}
        )

    async def edit(self, message_id: int, text: str) -> JSON:
        """Edit one of our messages."""
        return await self.client.call(
            "POST", "/edit", {"user_id": self.id, "message_id": message_id, "text": text}
        )

    async def press_data(self, message_id: int, data: str) -> str:
        """Press a button with this callback data (forged data included)."""
        return await self.client.call(
            "POST", "/press", {"user_id": self.id, "message_id": message_id, "data": data}
        )

    async def press(self, label: str) -> str:
        """Press the button whose label contains `label`, on the newest message that has one."""
        for message in reversed(await self.transcript()):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for key in row:
                    if label in key["text"] and "callback_data" in key:
                        return await self.press_data(message["message_id"], key["callback_data"])
        raise PlaygroundError(f"no button labelled {label!r} in the chat")

    async def inline_query(self, query: str, timeout: float = 10) -> JSON:
        """Type `@bot query` and wait for the bot's answer: {results, cache_time, is_personal}."""
        query_id = await self.client.call("POST", "/inline", {"user_id": self.id, "query": query})
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            for event in await self.client.events(self.cursor, timeout=min(remaining, 10)):
                self.cursor = event["seq"]
                if event["type"] == "inline" and event["body"]["inline_query_id"] == query_id:
                    return {"query_id": query_id, **event["body"]}
        raise TimeoutError(f"the bot did not answer the inline query {query!r} in {timeout}s")

    async def post_inline(self, answer: JSON, result_id: str, chat_id: int) -> JSON:
        """Post one result of an inline answer into a chat (as the Telegram app does)."""
        body = {"user_id": self.id, "query_id": answer["query_id"], "result_id": result_id,
                "chat_id": chat_id}  # fmt: skip
        return await self.client.call("POST", "/inline/choose", body)

    async def block(self, blocked: bool = True) -> None:
        """Block (or unblock) the bot."""
        await self.client.call("POST", "/block", {"user_id": self.id, "blocked": blocked})

    async def transcript(self) -> list[JSON]:
        """The whole private chat as it looks now."""
        return (await self.client.call("GET", f"/chats/{self.id}"))["messages"]

    async def commands(self) -> list[JSON]:
        """The command menu this user's app shows."""
        return (await self.client.call("GET", f"/chats/{self.id}"))["commands"]

    async def next_event(
        self, *types: str, timeout: float = 10, chat_id: int | None = None
    ) -> JSON:
        """The next event of these types from the bot in our chat, after our cursor."""
        wanted = set(types or ("message", "edit"))
        chat = chat_id if chat_id is not None else self.id
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            for event in await self.client.events(self.cursor, timeout=min(remaining, 10)):
                self.cursor = event["seq"]
                if event["type"] in wanted and self._from_bot(event) and event["chat_id"] == chat:
                    return event
        raise TimeoutError(f"the bot did not answer {self.profile['first_name']} in {timeout}s")

    async def next_reply(self, timeout: float = 10, chat_id: int | None = None) -> JSON:
        """The next message the bot sent or edited in our chat."""
        return (await self.next_event("message", "edit", timeout=timeout, chat_id=chat_id))["body"]

    async def replies(self, count: int, timeout: float = 10) -> list[JSON]:
        """The next `count` messages the bot sent or edited."""
        return [await self.next_reply(timeout) for _ in range(count)]

    @staticmethod
    def _from_bot(event: JSON) -> bool:
        body = event["body"]
        return event["type"] in ("answer", "commands") or bool(body.get("from", {}).get("is_bot"))
