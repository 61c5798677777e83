"""How each kind of queued notification reads: a registry of renderers, run at send time.

A renderer gets the recipient (with their own translator) and the delivery's payload, and returns
the message, or None when the notification is no longer relevant (the queue then cancels it); it
raises Postponed to keep it queued for later without counting a failed attempt.
Feature modules register their kinds with `@renders("kind")`; this module imports no handlers
and nothing from the delivery worker, so any handler may import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.turn import Message
from storage.models import User

Renderer = Callable[[AsyncSession, Translator, User, dict[str, Any]], Awaitable[Message | None]]

TEXT = "text"  # built in: payload {"texts": {"en": "...", "ar": "..."}}

_renderers: dict[str, Renderer] = {}


class UnknownKind(LookupError):
    """No renderer is registered for a delivery's kind."""


class Postponed(Exception):
    """A renderer's "not now" (its broadcast is paused, say): keep it queued until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"postponed until {until.isoformat()}")
        self.until = until


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of `kind` notifications."""

    def register(renderer: Renderer) -> Renderer:
        if kind == TEXT or _renderers.get(kind, renderer) is not renderer:
            raise ValueError(f"notification kind {kind!r} already has a renderer")
        _renderers[kind] = renderer
        return renderer

    return register


def kinds() -> frozenset[str]:
    """Every kind that can be rendered."""
    return frozenset({TEXT, *_renderers})


async def render(
    kind: str,
    session: AsyncSession,
    translator: Translator,
    user: User,
    payload: dict[str, Any],
    *,
    default_locale: str | None = None,
) -> Message | None:
    """The `kind` notification for `user`, in their language; None if it is no longer relevant."""
    if kind == TEXT:
        return text_message(payload, (user.locale, translator.locale, default_locale))
    renderer = _renderers.get(kind)
    if renderer is None:
        raise UnknownKind(kind)
    return await renderer(session, translator, user, payload)


def text_message(payload: Mapping[str, Any], locales: Iterable[str | None]) -> Message | None:
    """The first of `locales` the payload's texts exist in, else any text; None if there is none."""
    texts = {
        str(locale): str(text)
        for locale, text in (payload.get("texts") or {}).items()
        if str(text).strip()
    }
    for locale in locales:
        if locale in texts:
            return Message(texts[locale])
    return Message(next(iter(texts.values()))) if texts else None
