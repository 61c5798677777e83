"""Drive the Conversation as one person, without any transport."""

from __future__ import annotations

from dataclasses import dataclass

from bot.conversation import Conversation
from bot.turn import (
    Button,
    Command,
    CommandMenu,
    Event,
    Input,
    Message,
    Reply,
    Sender,
    Text,
    Toast,
    Unsupported,
)

BOT_URL = "https://t.me/passaparola_test_bot"


@dataclass
class Person:
    """A user talking to the conversation core directly."""

    conversation: Conversation
    user_id: str = "1001"
    language_code: str | None = "en"
    private: bool = True

    async def say(self, event_input: Input) -> list[Reply]:
        """Send one input and return every reply."""
        sender = Sender(
            channel="telegram",
            user_id=self.user_id,
            chat_id=self.user_id if self.private else "-500",
            language_code=self.language_code,
            first_name="Test",
            is_private=self.private,
        )
        return await self.conversation.handle(Event(sender, event_input, bot_url=BOT_URL))

    async def text(self, text: str) -> list[Reply]:
        """Type text."""
        return await self.say(Text(text))

    async def command(self, name: str, args: str = "") -> list[Reply]:
        """Send /name."""
        return await self.say(Command(name, args))

    async def press(self, data: str) -> list[Reply]:
        """Press a button carrying `data`."""
        return await self.say(Button(data))

    async def send_kind(self, kind: str) -> list[Reply]:
        """Send something that is not text."""
        return await self.say(Unsupported(kind))

    async def onboard(self, locale: str) -> list[Reply]:
        """/start, pick `locale`, accept the privacy notice; returns the last replies."""
        await self.command("start")
        await self.press(f"lang:set:{locale}")
        return await self.press("consent:yes")


def messages(replies: list[Reply]) -> list[Message]:
    """Only the chat messages among the replies."""
    return [reply for reply in replies if isinstance(reply, Message)]


def texts(replies: list[Reply]) -> str:
    """All message texts, joined: handy for `in` assertions."""
    return "\n".join(message.text for message in messages(replies))


def buttons(replies: list[Reply]) -> dict[str, str]:
    """Button label -> callback data (or URL), over every message in the replies."""
    return {
        key.label: key.data or key.url or ""
        for message in messages(replies)
        for row in message.keyboard
        for key in row
    }


def toasts(replies: list[Reply]) -> list[str]:
    """Texts shown on button presses."""
    return [reply.text for reply in replies if isinstance(reply, Toast)]


def command_menus(replies: list[Reply]) -> list[CommandMenu]:
    """Command lists set for the chat."""
    return [reply for reply in replies if isinstance(reply, CommandMenu)]
