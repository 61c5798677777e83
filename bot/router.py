"""Routers map commands and button actions to handlers; one router per feature module."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.turn import Reply

Handler = Callable[..., Awaitable[list[Reply]]]

CALLBACK_PATTERN = re.compile(r"^[a-z]{1,16}(:[A-Za-z0-9_-]{1,48}){0,3}$")
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Callback:
    """Parsed callback data `action:arg1:arg2`."""

    action: str
    args: tuple[str, ...]


def parse_callback(data: str) -> Callback | None:
    """Parse untrusted callback data strictly; None when it is not ours."""
    if len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK_BYTES:
        return None
    if not CALLBACK_PATTERN.match(data):
        return None
    action, *args = data.split(":")
    return Callback(action, tuple(args))


def callback(action: str, *args: str | int) -> str:
    """Build callback data; refuses anything the parser would reject."""
    data = ":".join([action, *(str(arg) for arg in args)])
    if parse_callback(data) is None:
        raise ValueError(f"invalid callback data {data!r}")
    return data


class Router:
    """A feature's commands and buttons. Button handlers get the parsed arguments."""

    def __init__(self) -> None:
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.photos: dict[str, Handler] = {}

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        """Register a handler for /name."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self.commands[name] = handler
            return handler

        return register

    def button(self, action: str) -> Callable[[Handler], Handler]:
        """Register a handler for callback data starting with `action:`."""

        def register(handler: Handler) -> Handler:
            self.buttons[action] = handler
            return handler

        return register

    def flow(self, name: str) -> Callable[[Handler], Handler]:
        """Register the handler for text typed while the user's open flow is `name`."""

        def register(handler: Handler) -> Handler:
            self.flows[name] = handler
            return handler

        return register

    def photo(self, name: str) -> Callable[[Handler], Handler]:
        """Register the handler for a photo sent while the user's open flow is `name`."""

        def register(handler: Handler) -> Handler:
            self.photos[name] = handler
            return handler

        return register

    def include(self, *routers: Router) -> None:
        """Merge other routers into this one; a name registered twice is a bug."""
        for router in routers:
            tables = (
                (self.commands, router.commands),
                (self.buttons, router.buttons),
                (self.flows, router.flows),
                (self.photos, router.photos),
            )
            for table, other in tables:
                clash = table.keys() & other.keys()
                if clash:
                    raise ValueError(f"registered twice: {sorted(clash)}")
                table.update(other)


class Expired(Exception):
    """A button or payload that is stale, forged or no longer allowed: answer 'expired'."""
