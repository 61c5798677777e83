"""The channel-neutral vocabulary: what came in (Event), what goes out (Reply), and the Turn."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.i18n import Catalog, Translator
    from bot.metrics import Metrics
    from bot.settings import Settings
    from storage.models import User
    from storage.users import UserRepository


# --- what came in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Who wrote, and where: a private chat or a group."""

    channel: str
    user_id: str
    chat_id: str
    language_code: str | None = None
    first_name: str = ""
    username: str = ""
    is_private: bool = True


@dataclass(frozen=True)
class Command:
    """A slash command such as /start, with whatever followed it."""

    name: str
    args: str = ""


@dataclass(frozen=True)
class Text:
    """Plain text the user typed."""

    text: str


@dataclass(frozen=True)
class Button:
    """A press on an inline button, carrying its callback data (untrusted)."""

    data: str


@dataclass(frozen=True)
class Photo:
    """A picture the user sent (the channel's file id), with its caption if any."""

    file_id: str
    caption: str = ""


@dataclass(frozen=True)
class Unsupported:
    """Something we cannot read: sticker, voice, photo, location, an edited message, ..."""

    kind: str


@dataclass(frozen=True)
class Membership:
    """The bot was added to / removed from a chat, or a user blocked / unblocked it."""

    joined: bool


@dataclass(frozen=True)
class InlineQuery:
    """Someone typed `@bot words` in any chat (or pressed a Share button): offer cards."""

    query: str


@dataclass(frozen=True)
class InlineChosen:
    """Someone posted one of our inline results into a chat: the result's id."""

    result_id: str


Input = Command | Text | Button | Photo | Unsupported | Membership | InlineQuery | InlineChosen


@dataclass(frozen=True)
class Event:
    """One update from any channel, reduced to what the conversation needs."""

    sender: Sender
    input: Input
    bot_url: str = ""  # a link that opens a private chat with the bot


# --- what goes out --------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One inline button: either callback data (ASCII, <= 64 bytes) or a URL."""

    label: str
    data: str | None = None
    url: str | None = None
    inline_query: str | None = None  # opens the chat picker, then posts the matching card there


Keyboard = tuple[tuple[Key, ...], ...]


@dataclass(frozen=True)
class Message:
    """A text message, or a photo with the text as caption; `edit` replaces the pressed message."""

    text: str
    keyboard: Keyboard = ()
    edit: bool = False
    to: str | None = None  # another user's chat on the same channel; None means this chat
    photo: str | None = None  # the channel's file id; a photo is always sent, never edited in
    preview: bool = True  # False: links in the text are never previewed


@dataclass(frozen=True)
class Toast:
    """A short notice shown on a button press (answer to the callback query)."""

    text: str


@dataclass(frozen=True)
class CommandMenu:
    """Set this chat's command list, in the user's language; empty resets it to the default."""

    commands: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Document:
    """A file for this chat, such as the person's own data as JSON."""

    filename: str
    content: bytes
    caption: str = ""


@dataclass(frozen=True)
class Picture:
    """An image made by the bot (a QR code, a chart), sent to this chat."""

    filename: str
    content: bytes
    caption: str = ""


@dataclass(frozen=True)
class InlineCard:
    """One inline result: a card that will be posted into the chat the user picked."""

    result_id: str  # ASCII, <= 64 bytes, e.g. "o12"
    title: str
    description: str
    text: str
    keyboard: Keyboard = ()


@dataclass(frozen=True)
class InlineResults:
    """The answer to an inline query; `start` is a button into the bot: (label, payload)."""

    cards: tuple[InlineCard, ...]
    personal: bool
    cache_seconds: int
    start: tuple[str, str] | None = None


Reply = Message | Toast | CommandMenu | Document | Picture | InlineResults


# --- the turn -------------------------------------------------------------------------------


@dataclass
class Turn:
    """Everything a handler may use for one update: the user, their language, one DB session."""

    event: Event
    session: AsyncSession
    users: UserRepository
    catalog: Catalog
    settings: Settings
    t: Translator
    user: User | None = None
    metrics: Metrics | None = None

    @property
    def sender(self) -> Sender:
        """Who wrote."""
        return self.event.sender

    def _(self, message: str, **values: object) -> str:
        """Translate into the user's language (see Translator._)."""
        return self.t._(message, **values)

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        """Translate with plural rules (see Translator.ngettext)."""
        return self.t.ngettext(singular, plural, count, **values)

    def timed_search(self, index: str) -> AbstractContextManager[object]:
        """A `with` block around one search in `index`, timed for the metrics."""
        return self.metrics.search_timer(index) if self.metrics is not None else nullcontext()

    def speak(self, locale: str) -> None:
        """Switch this turn's language, e.g. right after the user picked one."""
        self.t = self.catalog.translator(locale)
