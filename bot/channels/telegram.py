"""Telegram adapter: PTB Update -> Event, Reply -> Bot API calls. No conversation logic here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    ChatMember,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputFile,
    InputTextMessageContent,
    Update,
    User,
)
from telegram import (
    Message as TelegramMessage,
)
from telegram.constants import ChatType, MessageEntityType, MessageLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, TypeHandler

from bot.channels.bot_api import BotApi, JsonBody
from bot.conversation import Conversation
from bot.delivery import (
    DeliveryError,
    RateLimited,
    RecipientGone,
    TemporaryFailure,
    Undeliverable,
)
from bot.metrics import Metrics
from bot.turn import (
    Button,
    Command,
    CommandMenu,
    Document,
    Event,
    InlineChosen,
    InlineQuery,
    InlineResults,
    Input,
    Keyboard,
    Membership,
    Message,
    Photo,
    Picture,
    Reply,
    Sender,
    Text,
    Toast,
    Unsupported,
)

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
ATTACHMENT_KINDS = (
    "voice", "audio", "video_note", "photo", "video", "sticker", "document", "animation",
    "location", "venue", "contact", "poll", "dice", "game", "story",
)  # fmt: skip


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Up to `max_running` updates run at once, but one chat's updates run in arrival order.

    An update waiting for its own chat holds no running slot, so one busy chat cannot stall the
    others; `max_queued` only bounds how many updates may wait at all.
    """

    def __init__(self, max_running: int, max_queued: int = 1024) -> None:
        super().__init__(max_queued)
        self._running = asyncio.Semaphore(max_running)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: Counter[int] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for earlier updates of the same chat, then for a running slot, then run."""
        key = _chat_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] += 1
        try:
            async with lock, self._running:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""


def _event(user: User, chat_id: int, private: bool, event_input: Input, bot_username: str) -> Event:
    """The channel-neutral event: who wrote, where, and what."""
    sender = Sender(
        channel=CHANNEL,
        user_id=str(user.id),
        chat_id=str(chat_id),
        language_code=user.language_code,
        first_name=user.first_name,
        username=user.username or "",
        is_private=private,
    )
    return Event(sender, event_input, bot_url=f"https://t.me/{bot_username}")


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user else None


class TelegramChannel:
    """Connects a PTB Application to the Conversation."""

    def __init__(self, conversation: Conversation, metrics: Metrics | None = None) -> None:
        self.conversation = conversation
        self.metrics = metrics

    def install(self, application: Application) -> None:
        """Route every update through this adapter; log whatever escapes it."""
        application.add_handler(TypeHandler(Update, self.on_update))
        application.add_error_handler(self.on_error)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Turn the update into an Event, let the conversation answer, send the replies."""
        started = time.perf_counter()
        event = self.to_event(update, context.bot.username)
        try:
            if event is None:
                if update.callback_query is not None:
                    answer = answer_params(update.callback_query.id, None)
                    await _quietly(reply_call(context.bot)("answerCallbackQuery", answer))
                return
            replies = await self.conversation.handle(event)
            if update.inline_query is not None:
                await self.answer_inline(update, replies)
                return
            await self.deliver(context, event, update.callback_query, replies)
        finally:
            if self.metrics is not None:
                elapsed = time.perf_counter() - started
                self.metrics.update_handled(update_kind(update, event), elapsed)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Errors outside the conversation (network, Bot API): log them, never crash."""
        logger.error("telegram error: %r", context.error, exc_info=context.error)

    # --- Update -> Event ----------------------------------------------------------------

    def to_event(self, update: Update, bot_username: str) -> Event | None:
        """What the user did, or None when the update needs no answer."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or user.is_bot:
            return None
        if update.inline_query is not None:
            return self._inline_event(user, InlineQuery(update.inline_query.query), bot_username)
        if update.chosen_inline_result is not None:
            chosen = InlineChosen(update.chosen_inline_result.result_id)
            return self._inline_event(user, chosen, bot_username)
        if chat is None:
            return None
        private = chat.type == ChatType.PRIVATE
        if update.my_chat_member is not None:
            event_input: Input | None = _membership(update.my_chat_member, chat.type)
        elif update.callback_query is not None:
            event_input = Button(update.callback_query.data or "")
        elif update.edited_message is not None:
            # Text edits get an explanation; live locations edit themselves every few seconds.
            edited_text = update.edited_message.text is not None
            event_input = Unsupported("edited") if private and edited_text else None
        elif update.message is not None:
            event_input = _message_input(update.message, chat.type, bot_username)
        else:
            event_input = None
        if event_input is None:
            return None
        return _event(user, chat.id, private, event_input, bot_username)

    @staticmethod
    def _inline_event(user: User, event_input: Input, bot_username: str) -> Event:
        """Inline mode happens in someone else's chat: the sender is the person typing."""
        return _event(user, user.id, True, event_input, bot_username)

    # --- Reply -> Bot API ---------------------------------------------------------------

    async def answer_inline(self, update: Update, replies: list[Reply]) -> None:
        """Answer an inline query with our cards (an empty answer when there are none)."""
        assert update.inline_query is not None
        answer = next((reply for reply in replies if isinstance(reply, InlineResults)), None)
        if answer is None:
            await _quietly(update.inline_query.answer([], cache_time=0, is_personal=True))
            return
        results = [
            InlineQueryResultArticle(
                card.result_id,
                card.title,
                InputTextMessageContent(card.text),
                reply_markup=inline_markup(card.keyboard),
                description=card.description,
            )
            for card in answer.cards
        ]
        button = (
            InlineQueryResultsButton(answer.start[0], start_parameter=answer.start[1])
            if answer.start is not None
            else None
        )
        await _quietly(
            update.inline_query.answer(
                results,
                cache_time=answer.cache_seconds,
                is_personal=answer.personal,
                button=button,
            )
        )

    async def deliver(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        event: Event,
        query: CallbackQuery | None,
        replies: list[Reply],
    ) -> None:
        """Send the replies in order; a button press is always answered exactly once."""
        call = reply_call(context.bot)
        toast = next((reply.text for reply in replies if isinstance(reply, Toast)), None)
        if query is not None:
            await _quietly(call("answerCallbackQuery", answer_params(query.id, toast)))
        chat_id = int(event.sender.chat_id)
        for reply in replies:
            if isinstance(reply, Message):
                await self._send(call, chat_id, query, reply)
            elif isinstance(reply, Document):
                upload = InputFile(reply.content, filename=reply.filename)
                await _quietly(context.bot.send_document(chat_id, upload, caption=reply.caption))
            elif isinstance(reply, Picture):
                upload = InputFile(reply.content, filename=reply.filename)
                caption = reply.caption or None
                await _quietly(context.bot.send_photo(chat_id, upload, caption=caption))
            elif isinstance(reply, CommandMenu):
                await _quietly(call(*command_list_call(chat_id, reply)))

    async def _send(
        self,
        call: JsonCall,
        chat_id: int,
        query: CallbackQuery | None,
        reply: Message,
    ) -> None:
        target = int(reply.to) if reply.to is not None else chat_id
        pressed = query.message if query is not None else None
        if (
            reply.edit
            and reply.to is None
            and reply.photo is None
            and isinstance(pressed, TelegramMessage)
        ):
            params = {"chat_id": pressed.chat_id, "message_id": pressed.message_id}
            try:
                await call("editMessageText", params | message_params(reply))
                self._count("sent")
                return
            except BadRequest as error:
                if "not modified" in error.message:
                    return
                logger.info("could not edit message, sending instead: %s", error.message)
        try:
            await post(call, target, reply)
        except Forbidden as error:
            if isinstance(delivery_error(error), RecipientGone):
                self._count("blocked")
                await self.conversation.contact_stopped(CHANNEL, str(target))
            else:
                self._count("failed")
                logger.warning("could not send to a chat: %s", error)
        except TelegramError as error:
            self._count("failed")
            logger.warning("could not send to a chat: %s", error)
        else:
            self._count("sent")

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.message("reply", outcome)


# Updates that became an event are named by their input; the others (an inline query, a group
# message not addressed to us, ...) by their field in Telegram's Update.
INPUT_KINDS: dict[type, str] = {
    Command: "command",
    Text: "text",
    Button: "button",
    Photo: "photo",
    Membership: "membership",
    Unsupported: "unsupported",
    InlineQuery: "inline_query",
    InlineChosen: "inline_chosen",
}
UPDATE_FIELDS = (
    "inline_query", "chosen_inline_result", "callback_query", "my_chat_member", "edited_message",
    "message", "channel_post", "chat_member", "chat_join_request",
)  # fmt: skip


def update_kind(update: Update, event: Event | None) -> str:
    """A short, bounded name for what the update was, for metrics."""
    if event is not None:
        return INPUT_KINDS.get(type(event.input), "other")
    field = next((name for name in UPDATE_FIELDS if getattr(update, name, None) is not None), None)
    return field or "other"


# The only refusals that mean the person is gone; "chat not found" and the like are not proof.
RECIPIENT_GONE = ("bot was blocked by the user", "user is deactivated")


class TelegramSender:
    """Sends the delivery queue's messages through a lean Bot API caller of its own.

    Not the Application's bot: its reply rate limiter would retry a 429 inside the call, behind
    the delivery worker's back and past its lease; and at bulk rates, PTB's objects and its httpx
    pool cost more CPU than the sending itself (see bot/channels/bot_api.py). Errors become
    bot.delivery's neutral ones.
    """

    def __init__(self, token: str, bot_api_url: str, connections: int = 16) -> None:
        self.api = BotApi(token, bot_api_url, connections)

    async def initialize(self) -> None:
        """Open the HTTP connection pool."""
        await self.api.initialize()

    async def shutdown(self) -> None:
        """Close the HTTP connection pool."""
        await self.api.shutdown()

    async def send(self, chat_id: str, message: Message) -> str:
        """Send one message (split if long); its id, or a DeliveryError saying why it did not go."""
        try:
            sent = await post(self.api.call, int(chat_id), message)
        except TelegramError as error:
            raise delivery_error(error) from error
        return str(sent["message_id"])

    async def edit(self, chat_id: str, message_id: str, message: Message) -> None:
        """Replace the text and buttons of a message we sent; unchanged is fine."""
        params = {"chat_id": int(chat_id), "message_id": int(message_id)}
        try:
            await self.api.call("editMessageText", params | message_params(message))
        except BadRequest as error:
            if "not modified" not in error.message:
                raise delivery_error(error) from error
        except TelegramError as error:
            raise delivery_error(error) from error


@lru_cache(maxsize=1024)
def _keyboard_json(keyboard: Keyboard) -> dict[str, Any] | None:
    markup = inline_markup(keyboard)
    return markup.to_dict() if markup is not None else None


def _markup_param(keyboard: Keyboard) -> dict[str, Any]:
    """{"reply_markup": ...} for a keyboard, or nothing."""
    markup = _keyboard_json(keyboard)
    return {"reply_markup": markup} if markup is not None else {}


JsonCall = Callable[[str, dict[str, Any]], Awaitable[Any]]


def reply_call(bot: Bot) -> JsonCall:
    """Bot API calls with plain JSON in and out, through the bot's own rate limiter.

    Replies skip PTB's objects both ways: building and parsing a Message with its keyboard for
    every edit cost more CPU than the rest of a turn (benches/throughput.py). The request, the
    error types (RetryAfter, Forbidden, BadRequest, ...) and the 429 handling stay PTB's.
    """
    limiter = getattr(bot, "rate_limiter", None)

    async def call(method: str, params: dict[str, Any]) -> Any:
        async def request() -> Any:
            return await bot.request.post(f"{bot.base_url}/{method}", JsonBody(params))

        if limiter is None:
            return await request()
        return await limiter.process_request(
            callback=request, args=(), kwargs={}, endpoint=method, data=params,
            rate_limit_args=None,
        )  # fmt: skip

    return call


def message_params(message: Message) -> dict[str, Any]:
    """A Message's text, buttons and link-preview choice as Bot API parameters."""
    return {"text": message.text} | _markup_param(message.keyboard) | _preview_param(message)


def answer_params(callback_query_id: str, toast: str | None) -> dict[str, Any]:
    """answerCallbackQuery's parameters: stop the button's spinner, with a notice if any."""
    return {"callback_query_id": callback_query_id} | ({"text": toast} if toast else {})


def command_list_call(chat_id: int, menu: CommandMenu) -> tuple[str, dict[str, Any]]:
    """The call that sets this chat's command list, or resets it to the default when empty."""
    scope = {"scope": {"type": "chat", "chat_id": chat_id}}
    if not menu.commands:
        return "deleteMyCommands", scope
    commands = [{"command": name, "description": text} for name, text in menu.commands]
    return "setMyCommands", {"commands": commands} | scope


def _preview_param(message: Message) -> dict[str, Any]:
    return {} if message.preview else {"link_preview_options": {"is_disabled": True}}


async def post(call: JsonCall, chat_id: int, message: Message) -> dict[str, Any]:
    """Send a Message: a photo with the text as caption if it fits, else photo then text.

    Long texts are split; the buttons go under the last part. Returns the last message sent.
    """
    markup = _markup_param(message.keyboard)
    if message.photo is not None:
        photo: dict[str, Any] = {"chat_id": chat_id, "photo": message.photo}
        if _fitting_prefix(message.text, MessageLimit.CAPTION_LENGTH) == len(message.text):
            caption = {"caption": message.text} if message.text else {}
            return await call("sendPhoto", photo | caption | markup)
        await call("sendPhoto", photo)
    no_preview = _preview_param(message)
    *heads, last = split_text(message.text)
    for part in heads:
        await call("sendMessage", {"chat_id": chat_id, "text": part} | no_preview)
    return await call("sendMessage", {"chat_id": chat_id, "text": last} | markup | no_preview)


def delivery_error(error: TelegramError) -> DeliveryError:
    """What the delivery worker should make of a Bot API error."""
    if isinstance(error, RetryAfter):
        retry_after = error.retry_after
        seconds = retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after
        return RateLimited(float(seconds))
    if isinstance(error, Forbidden):
        gone = any(reason in error.message.lower() for reason in RECIPIENT_GONE)
        return RecipientGone(error.message) if gone else Undeliverable(error.message)
    if isinstance(error, BadRequest | ChatMigrated):
        return Undeliverable(error.message)
    if isinstance(error, NetworkError):  # timeouts, connection trouble, 5xx
        return TemporaryFailure(error.message)
    return TemporaryFailure(f"{type(error).__name__}: {error.message}")


OUTSIDE = (ChatMember.LEFT, ChatMember.BANNED)


def _membership(update: ChatMemberUpdated, chat_type: str) -> Membership | None:
    """Joining or leaving only: promotions and restrictions are not news; channels get nothing."""
    if chat_type == ChatType.CHANNEL:
        return None
    was_in = update.old_chat_member.status not in OUTSIDE
    is_in = update.new_chat_member.status not in OUTSIDE
    return Membership(joined=is_in) if was_in != is_in else None


def _message_input(message: TelegramMessage, chat_type: str, bot_username: str) -> Input | None:
    command = _command(message, bot_username)
    text = message.text
    if chat_type != ChatType.PRIVATE:
        mentioned = text is not None and f"@{bot_username}".lower() in text.lower()
        return command or (Text(text) if mentioned and text is not None else None)
    if command is not None:
        return command
    if text is not None:
        return Text(text)
    if message.photo:
        return Photo(message.photo[-1].file_id, message.caption or "")  # the largest size
    kind = next((kind for kind in ATTACHMENT_KINDS if getattr(message, kind, None)), None)
    return Unsupported(kind) if kind else None  # service messages (pins, timers) need no answer


def _command(message: TelegramMessage, bot_username: str) -> Command | None:
    """A bot command at the very start of the text, addressed to us (or to no bot in particular)."""
    text = message.text or ""
    entity = next(iter(message.entities), None)
    if entity is None or entity.type != MessageEntityType.BOT_COMMAND or entity.offset != 0:
        return None
    name, _, addressee = text[1 : entity.length].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return Command(name.lower(), text[entity.length :].strip())


@lru_cache(maxsize=1024)
def inline_markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    """Telegram's inline keyboard for our channel-neutral one (None when there are no keys).

    Both are immutable, so one is built per distinct keyboard (a broadcast has one per language).
    """
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    key.label,
                    callback_data=key.data,
                    url=key.url,
                    switch_inline_query=key.inline_query,
                )
                for key in row
            ]
            for row in keyboard
        ]
    )


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at a paragraph break, else a line break, so each part fits one Telegram message.

    Telegram counts UTF-16 code units, so an emoji counts twice.
    """
    parts: list[str] = []
    while (end := _fitting_prefix(text, limit)) < len(text):
        cut = text.rfind("\n\n", 0, end)
        if cut <= 0:
            cut = text.rfind("\n", 0, end)
        if cut <= 0:
            cut = end
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    return [*parts, text]


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


async def _quietly(call: Awaitable[object]) -> None:
    """Calls whose failure must not stop the replies that follow (answers, command lists)."""
    try:
        await call
    except TelegramError as error:
        logger.info("Bot API call failed: %s", error)
