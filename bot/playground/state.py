"""The playground's world: simulated users and chats, the bot's messages, updates, faults.

It keeps Telegram's shapes (JSON objects as the Bot API documents them) and Telegram's rules
(message length, callback data size, blocked users, send rate), in memory: it stands in for
Telegram's servers in the demo, the tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
FIRST_USER_ID = 1_000_001
FIRST_GROUP_ID = -100_001
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})


class ApiError(Exception):
    """A Telegram-shaped error answer: {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        """The JSON body Telegram would send."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class Fault:
    """An injected failure: the next `count` matching calls fail (or are slowed) this way.

    With `percent` below 100, each matching call fails only with that probability (a random
    share of the traffic); `count` then counts the calls that did fail.
    """

    kind: str  # "429", "403", "5xx" or "slow"
    method: str | None = None  # lower-case Bot API method; None matches every method but getUpdates
    chat_id: int | None = None
    count: int = 1
    retry_after: int = 1
    delay: float = 0.0
    percent: float = 100.0

    def matches(self, method: str, chat_id: int | None) -> bool:
        """True when this fault applies to a call of `method` for `chat_id`."""
        if method == "getupdates" and self.method != "getupdates":
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class RateRule:
    """Telegram-like flood control: at most `per_second` sends overall, `per_chat` per chat/s."""

    per_second: float = 0.0  # 0 means no limit
    per_chat: float = 0.0
    sent: deque[float] = field(default_factory=deque)
    sent_by_chat: dict[int, deque[float]] = field(default_factory=dict)

    def check(self, chat_id: int | None, now: float) -> None:
        """Raise a 429 when this send would exceed the limits; otherwise count it."""
        window = self.sent
        # Per-chat windows only when a per-chat limit is on: a deque per chat is costly at 100k.
        chat_window = self.sent_by_chat.setdefault(chat_id or 0, deque()) if self.per_chat else None
        for times in (window,) if chat_window is None else (window, chat_window):
            while times and now - times[0] >= 1.0:
                times.popleft()
        if (self.per_second and len(window) >= self.per_second) or (
            chat_window is not None and len(chat_window) >= self.per_chat
        ):
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.per_second:
            window.append(now)
        if chat_window is not None:
            chat_window.append(now)


@dataclass(frozen=True)
class Webhook:
    """Where the bot asked for its updates to be posted (setWebhook), and the secret to send."""

    url: str
    secret_token: str = ""


@dataclass
class Stats:
    """What happened, for tests and benchmarks."""

    calls: dict[str, int] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # update -> first answer, seconds


class Playground:
    """In-memory Telegram: one bot, many simulated users, private and group chats.

    `lean=True` is for benchmarks with very many users: the bot's messages to a chat whose user
    never wrote are only counted (`received`), not stored nor published as events. Chats of users
    who write (an admin, say) keep their transcripts and events as usual.
    """

    def __init__(
        self,
        token: str | None = None,
        username: str = "passaparola_demo_bot",
        *,
        lean: bool = False,
        seed: int | None = None,
    ) -> None:
        self.bot_id = 7_000_000_001
        self.token = token or f"{self.bot_id}:{secrets.token_urlsafe(30)[:35]}"
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Passaparola",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.members: dict[int, set[int]] = {}
        self.blocked: set[int] = set()
        self.messages: dict[int, dict[int, JSON]] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.callback_answers: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}
        self.files: dict[str, bytes] = {}  # uploaded photos, newest last, for the chat page
        self._inline_queries: dict[str, tuple[int, str]] = {}  # query id -> (user id, query)
        self.faults: list[Fault] = []
        self.lean = lean
        self.received: Counter[int] = Counter()  # bot messages per chat (every mode)
        self._talkers: set[int] = set()  # chats whose user wrote: transcripts even when lean
        self._random = random.Random(seed)
        self.rate = RateRule()
        self.stats = Stats()
        self._updates: list[JSON] = []
        self.webhook: Webhook | None = None  # set: updates are posted to it, not fetched
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._user_ids = itertools.count(FIRST_USER_ID)
        self._group_ids = itertools.count(FIRST_GROUP_ID, -1)
        self._query_ids = itertools.count(1)
        self._open_queries: dict[str, int] = {}  # query id -> chat id
        self._waiting_since: dict[int, deque[float]] = {}
        self._new_update = asyncio.Condition()
        self.events: list[JSON] = []
        self._new_event = asyncio.Condition()

    # --- simulated users' side ----------------------------------------------------------

    def add_user(
        self, first_name: str, language_code: str | None = None, username: str = ""
    ) -> JSON:
        """A new Telegram user with a private chat to the bot."""
        user_id = next(self._user_ids)
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats[user_id] = {"id": user_id, "type": "private", "first_name": first_name}
        return user

    async def add_group(self, title: str, member_ids: list[int]) -> JSON:
        """A group with these users in it, the bot just added by the first of them."""
        group_id = next(self._group_ids)
        chat = {"id": group_id, "type": "group", "title": title}
        self.chats[group_id] = chat
        self.members[group_id] = set(member_ids)
        adder = self._user(member_ids[0])
        await self._push_update(
            "my_chat_member",
            {
                "chat": chat,
                "from": adder,
                "date": _now(),
                "old_chat_member": {"status": "left", "user": self.bot_user},
                "new_chat_member": {"status": "member", "user": self.bot_user},
            },
            chat_id=None,
        )
        return chat

    async def user_sends(self, user_id: int, text: str, chat_id: int | None = None) -> JSON:
        """The user types `text` (commands and @mentions get their entities)."""
        message = self._user_message(user_id, chat_id, text=text, entities=_entities(text))
        await self._deliver_user_message(message)
        return message

    async def user_sends_kind(self, user_id: int, kind: str, caption: str = "") -> JSON:
        """The user sends a sticker, voice, photo, location, document or contact."""
        attachments: dict[str, Any] = {
            "sticker": {"file_id": "sticker1", "file_unique_id": "s1", "width": 512,
                        "height": 512, "is_animated": False, "is_video": False, "type": "regular"},
            "voice": {"file_id": "voice1", "file_unique_id": "v1", "duration": 3},
            "photo": [{"file_id": "photo1", "file_unique_id": "p1", "width": 640, "height": 480}],
            "location": {"latitude": 44.1391, "longitude": 12.2431},
            "document": {"file_id": "doc1", "file_unique_id": "d1", "file_name": "file.pdf"},
            "contact": {"phone_number": "+390000000", "first_name": "Friend"},
        }  # fmt: skip
        if kind not in attachments:
            raise ApiError(400, f"Bad Request: unknown attachment kind {kind!r}")
        extra = {"caption": caption} if caption and kind in ("photo", "document") else {}
        message = self._user_message(user_id, None, **{kind: attachments[kind]}, **extra)
        await self._deliver_user_message(message)
        return message

    async def user_edits(self, user_id: int, message_id: int, text: str) -> JSON:
        """The user edits one of their own messages."""
        original = self.messages.get(user_id, {}).get(message_id)
        if original is None or original.get("from", {}).get("id") != user_id:
            raise ApiError(400, "Bad Request: message to edit not found")
        edited = {**original, "text": text, "entities": _entities(text), "edit_date": _now()}
        self.messages[user_id][message_id] = edited
        await self._event("edit", user_id, edited)
        await self._push_update("edited_message", edited, chat_id=user_id)
        return edited

    async def user_presses(
        self, user_id: int, message_id: int, data: str, chat_id: int | None = None
    ) -> str:
        """The user presses an inline button carrying `data` (which a client could forge)."""
        chat_id = chat_id if chat_id is not None else user_id
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message not found")
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        self._open_queries[query_id] = chat_id
        await self._event("press", chat_id, {"message_id": message_id, "data": data})
        await self._push_update("callback_query", query, chat_id=chat_id)
        return query_id

    async def user_inline_query(self, user_id: int, query: str) -> str:
        """The user types `@bot query` in any chat."""
        query_id = str(next(self._query_ids))
        body = {"id": query_id, "from": self._user(user_id), "query": query, "offset": ""}
        self._inline_queries[query_id] = (user_id, query)
        await self._push_update("inline_query", body, chat_id=user_id)
        return query_id

    async def user_chooses_inline(
        self, user_id: int, query_id: str, result_id: str, chat_id: int
    ) -> JSON:
        """The user picks one of the bot's inline results: it is posted, "via @bot", into the
        chat `chat_id` (a friend's chat here), and the bot hears chosen_inline_result."""
        asker, query = self._inline_queries.get(query_id, (None, ""))
        answer = self.inline_answers.get(query_id)
        if asker != user_id or answer is None:
            raise ApiError(400, "Bad Request: inline query not found or not answered yet")
        result = next((r for r in answer["results"] if r.get("id") == result_id), None)
        if result is None:
            raise ApiError(400, "Bad Request: no such inline result")
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        content = result.get("input_message_content") or {}
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self._user(user_id),
            "chat": self.chats[chat_id],
            "date": _now(),
            "text": _text(content.get("message_text")),
            "via_bot": self.bot_user,
        }
        if result.get("reply_markup"):
            message["reply_markup"] = _markup(result["reply_markup"])
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        await self._event("message", chat_id, message)
        chosen = {"result_id": result_id, "from": self._user(user_id), "query": query}
        await self._push_update("chosen_inline_result", chosen, chat_id=None)
        return message

    async def user_blocks(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot; Telegram tells the bot with my_chat_member."""
        user = self._user(user_id)
        (self.blocked.add if blocked else self.blocked.discard)(user_id)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        new_member: JSON = {"status": new, "user": self.bot_user}
        if blocked:
            new_member["until_date"] = 0
        await self._push_update(
            "my_chat_member",
            {
                "chat": self.chats[user_id],
                "from": user,
                "date": _now(),
                "old_chat_member": {"status": old, "user": self.bot_user, "until_date": 0},
                "new_chat_member": new_member,
            },
            chat_id=None,
        )

    def _keep_file(self, file_id: str, content: bytes) -> None:
        """Keep an uploaded picture for the page to show; only the newest ones are kept."""
        self.files[file_id] = content
        while len(self.files) > MAX_KEPT_FILES:
            del self.files[next(iter(self.files))]

    def transcript(self, chat_id: int) -> list[JSON]:
        """Every message in the chat, oldest first, as it looks now (edits applied)."""
        return [m for _, m in sorted(self.messages.get(chat_id, {}).items())]

    def command_list(self, chat_id: int, language_code: str | None) -> list[JSON]:
        """The commands this user's client would show, resolved like Telegram resolves scopes."""
        lang = (language_code or "")[:2]
        for key in ((f"chat:{chat_id}", lang), (f"chat:{chat_id}", ""), ("default", lang)):
            if key in self.commands:
                return self.commands[key]
        return self.commands.get(("default", ""), [])

    async def wait_events(self, after: int, timeout: float) -> list[JSON]:
        """Events with seq > after, waiting up to `timeout` seconds for the first one."""
        async with self._new_event:
            if len(self.events) <= after:
                try:
                    await asyncio.wait_for(
                        self._new_event.wait_for(lambda: len(self.events) > after), timeout
                    )
                except TimeoutError:
                    return []
            return self.events[after:]

    # --- the bot's side: Bot API methods ------------------------------------------------

    async def call(self, method: str, params: JSON) -> Any:
        """Run one Bot API method; raises ApiError in Telegram's shape."""
        name = method.lower()
        self.stats.calls[name] = self.stats.calls.get(name, 0) + 1
        try:
            chat_id = _optional_int(params.get("chat_id"))
            await self._apply_faults(name, chat_id)
            handler = getattr(self, f"_api_{name}", None)
            if handler is None:
                raise ApiError(400, f"Bad Request: method {method!r} is not supported")
            if name in SEND_METHODS:
                self.rate.check(chat_id, time.monotonic())
            return await handler(params)
        except ApiError as error:
            self.stats.errors[error.code] = self.stats.errors.get(error.code, 0) + 1
            raise

    async def _apply_faults(self, method: str, chat_id: int | None) -> None:
        for fault in self.faults:
            if fault.count > 0 and fault.matches(method, chat_id):
                if fault.percent < 100 and self._random.random() * 100 >= fault.percent:
                    continue
                fault.count -= 1
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                elif fault.kind == "429":
                    text = f"Too Many Requests: retry after {fault.retry_after}"
                    raise ApiError(429, text, retry_after=fault.retry_after)
                elif fault.kind == "403":
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                else:
                    raise ApiError(502, "Bad Gateway")
                break
        self.faults = [fault for fault in self.faults if fault.count > 0]

    async def _api_getme(self, params: JSON) -> JSON:
        return self.bot_user

    async def _api_setwebhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._api_deletewebhook(params)
        if not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = Webhook(url, secret)
        async with self._new_update:
            self._new_update.notify_all()
        return True

    async def _api_deletewebhook(self, params: JSON) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._updates.clear()
        return True

    async def _api_getwebhookinfo(self, params: JSON) -> JSON:
        return {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def next_webhook_update(self) -> tuple[Webhook, JSON]:
        """Wait until a webhook is set and an update is pending; the oldest, not yet removed."""
        async with self._new_update:
            await self._new_update.wait_for(lambda: self.webhook is not None and self._updates)
            assert self.webhook is not None
            return self.webhook, self._updates[0]

    def webhook_delivered(self, update_id: int) -> None:
        """The webhook answered 2xx for this update: Telegram forgets it."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]

    async def _api_getupdates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _optional_int(params.get("offset")) or 0
        limit = min(max(_optional_int(params.get("limit")) or 100, 1), 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        allowed = params.get("allowed_updates")
        async with self._new_update:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout:
                try:
                    await asyncio.wait_for(
                        self._new_update.wait_for(lambda: self._updates), timeout
                    )
                except TimeoutError:
                    return []
            updates = self._updates[:limit]
        if allowed:
            updates = [u for u in updates if any(kind in u for kind in allowed)]
        return updates

    async def _api_sendmessage(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        text = _text(params.get("text"))
        return await self._bot_message(chat_id, params, text=text)

    async def _api_sendphoto(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        photo = params.get("photo")
        if photo is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        size = _size(photo)
        file_id = f"photo{secrets.token_hex(4)}"
        if isinstance(photo, bytes | bytearray):
            self._keep_file(file_id, bytes(photo))
        sizes = [{"file_id": file_id, "file_unique_id": secrets.token_hex(4),
                  "width": 800, "height": 600, "file_size": size}]  # fmt: skip
        return await self._bot_message(chat_id, params, photo=sizes, **_caption(params))

    async def _api_senddocument(self, params: JSON) -> JSON:
        chat_id = self._writable_chat(params)
        document = params.get("document")
        if document is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        meta = {
            "file_id": f"doc{secrets.token_hex(4)}",
            "file_unique_id": secrets.token_hex(4),
            "file_name": params.get("_filename", "document"),
            "file_size": _size(document),
        }
        return await self._bot_message(chat_id, params, document=meta, **_caption(params))

    async def _api_editmessagetext(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        text = _text(params.get("text"))
        markup = _markup(params.get("reply_markup"))
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same")  # fmt: skip
        return await self._edit(message, text=text, reply_markup=markup)

    async def _api_editmessagereplymarkup(self, params: JSON) -> JSON:
        message = self._bot_message_to_edit(params)
        markup = _markup(params.get("reply_markup"))
        if message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        return await self._edit(message, reply_markup=markup)

    async def _api_deletemessage(self, params: JSON) -> bool:
        chat_id = _required_int(params, "chat_id")
        message_id = _required_int(params, "message_id")
        if self.messages.get(chat_id, {}).pop(message_id, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        await self._event("delete", chat_id, {"message_id": message_id})
        return True

    async def _api_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")  # fmt: skip
        answer = {"text": params.get("text") or "", "show_alert": _flag(params.get("show_alert"))}
        chat_id = self._open_queries.pop(query_id)
        self.callback_answers[query_id] = answer
        await self._event("answer", chat_id, {"callback_query_id": query_id, **answer})
        return True

    async def _api_answerinlinequery(self, params: JSON) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise ApiError(400, "Bad Request: results must be an array of at most 50 items")
        ids = [str(result.get("id", "")) for result in results]
        if len(set(ids)) != len(ids) or not all(1 <= len(i.encode()) <= 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for result in results:
            _text(result.get("input_message_content", {}).get("message_text"))
            _markup(result.get("reply_markup"))
        button = params.get("button")
        if button is not None and not START_PARAMETER.match(str(button.get("start_parameter"))):
            raise ApiError(400, "Bad Request: START_PARAM_INVALID")
        self.inline_answers[query_id] = {
            "results": results,
            "cache_time": _optional_int(params.get("cache_time")),
            "is_personal": _flag(params.get("is_personal")),
            "button": button,
        }
        await self._event(
            "inline", None, {"inline_query_id": query_id, **self.inline_answers[query_id]}
        )
        return True

    async def _api_setmycommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 items")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if key[1] and len(key[1]) != 2:
            raise ApiError(400, "Bad Request: LANGUAGE_CODE_INVALID")
        self.commands[key] = [{"command": c["command"], "description": c["description"]}
                              for c in commands]  # fmt: skip
        if key[0].startswith("chat:"):
            await self._event("commands", int(key[0][5:]), {"commands": self.commands[key]})
        return True

    async def _api_getmycommands(self, params: JSON) -> list[JSON]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return self.commands.get(key, [])

    async def _api_deletemycommands(self, params: JSON) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True

    # --- internals ----------------------------------------------------------------------

    def _user(self, user_id: int) -> JSON:
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        return user

    def _writable_chat(self, params: JSON) -> int:
        chat_id = _required_int(params, "chat_id")
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _bot_message_to_edit(self, params: JSON) -> JSON:
        chat_id = _required_int(params, "chat_id")
        message_id = _required_int(params, "message_id")
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    async def _bot_message(self, chat_id: int, params: JSON, **content: Any) -> JSON:
        self.received[chat_id] += 1
        if self.lean and chat_id not in self._talkers:
            return {
                "message_id": self._next_message_id(chat_id),
                "from": self.bot_user,
                "chat": self.chats[chat_id],
                "date": _now(),
                **content,
            }
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self.chats[chat_id],
            "date": _now(),
            **content,
        }
        markup = _markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        self._answered(chat_id)
        await self._event("message", chat_id, message)
        return message

    async def _edit(self, message: JSON, **changes: Any) -> JSON:
        chat_id = message["chat"]["id"]
        edited = {**message, **changes, "edit_date": _now()}
        if edited.get("reply_markup") is None:
            edited.pop("reply_markup", None)
        self.messages[chat_id][message["message_id"]] = edited
        self._answered(chat_id)
        await self._event("edit", chat_id, edited)
        return edited

    def _user_message(self, user_id: int, chat_id: int | None, **content: Any) -> JSON:
        user = self._user(user_id)
        chat_id = chat_id if chat_id is not None else user_id
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id < 0 and user_id not in self.members.get(chat_id, set()):
            raise ApiError(400, "Bad Request: user is not a member of the group")
        return {
            "message_id": self._next_message_id(chat_id),
            "from": user,
            "chat": self.chats[chat_id],
            "date": _now(),
            **{key: value for key, value in content.items() if value},
        }

    async def _deliver_user_message(self, message: JSON) -> None:
        chat_id = message["chat"]["id"]
        self._talkers.add(chat_id)
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        await self._event("message", chat_id, message)
        await self._push_update("message", message, chat_id=chat_id)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    async def _push_update(self, kind: str, body: JSON, chat_id: int | None) -> None:
        if chat_id is not None and chat_id in self.blocked and kind != "my_chat_member":
            self.blocked.discard(chat_id)  # writing to a bot you blocked unblocks it
        if chat_id is not None:
            self._waiting_since.setdefault(chat_id, deque()).append(time.perf_counter())
        self._updates.append({"update_id": next(self._update_ids), kind: body})
        async with self._new_update:
            self._new_update.notify_all()

    def _answered(self, chat_id: int) -> None:
        waiting = self._waiting_since.get(chat_id)
        if waiting:
            self.stats.latencies.append(time.perf_counter() - waiting.popleft())

    async def _event(self, kind: str, chat_id: int | None, body: JSON) -> None:
        async with self._new_event:
            self.events.append({"seq": len(self.events) + 1, "type": kind, "chat_id": chat_id,
                                "body": body})  # fmt: skip
            self._new_event.notify_all()


def _now() -> int:
    return int(time.time())


def _optional_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: expected an integer, got {value!r}") from None


def _required_int(params: JSON, name: str) -> int:
    value = _optional_int(params.get(name))
    if value is None:
        raise ApiError(400, f"Bad Request: {name} is required")
    return value


def _flag(value: Any) -> bool:
    """A Bot API boolean, sent as JSON or as form text ("true")."""
    return value is True or str(value).lower() in ("true", "1")


MAX_KEPT_FILES = 100
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _text(value: Any) -> str:
    text = str(value or "")
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if _utf16_len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return text


def _size(upload: Any) -> int:
    """Bytes of an uploaded file; 0 for a file_id or URL sent instead."""
    return len(upload) if isinstance(upload, bytes | bytearray) else 0


def _caption(params: JSON) -> JSON:
    caption = params.get("caption")
    if caption is None:
        return {}
    if len(str(caption)) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")
    return {"caption": str(caption)}


def _markup(value: Any) -> JSON | None:
    """Validate an InlineKeyboardMarkup the way Telegram does (callback data 1-64 bytes)."""
    if value is None or value == "":
        return None
    markup = json.loads(value) if isinstance(value, str) else value
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise ApiError(400, "Bad Request: reply markup must be an inline keyboard")
    for row in rows:
        for button in row:
            if not str(button.get("text", "")).strip():
                raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if data is None and not any(
                k in button
                for k in ("url", "switch_inline_query", "switch_inline_query_current_chat")
            ):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button")
    return {"inline_keyboard": rows}


def _scope_key(scope: Any) -> str:
    if isinstance(scope, str) and scope:
        scope = json.loads(scope)
    if not scope or scope.get("type") == "default":
        return "default"
    if scope.get("type") == "chat":
        return f"chat:{int(scope['chat_id'])}"
    return str(scope.get("type"))


def _entities(text: str) -> list[JSON]:
    """Telegram's entities for a command at the start and for @mentions."""
    entities: list[JSON] = []
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        command = text.split(maxsplit=1)[0]
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command)})
    offset = 0
    for word in text.split(" "):
        if word.startswith("@") and len(word) > 1:
            entities.append({"type": "mention", "offset": offset, "length": _utf16_len(word)})
        offset += _utf16_len(word) + 1
    return entities


def _utf16_len(text: str) -> int:
    """Telegram counts entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
