"""First visit: pick a language, read the privacy notice, agree; and /start for everyone after."""

from __future__ import annotations

import re

from bot.i18n import SHIPPED_LOCALES, match_locale, native_name
from bot.router import Expired, Router
from bot.turn import Command, CommandMenu, Message, Reply, Toast, Turn
from handlers import roles, sharing
from handlers.help import command_menu
from handlers.keyboards import consent_keyboard, language_keyboard, main_menu
from handlers.links import parse_link

router = Router()


def privacy_notice(turn: Turn) -> str:
    """What we store, why, and how to delete it."""
    return "\n\n".join(
        (
            "🔒 " + turn._("Your privacy"),
            turn._(
                "What we store: your Telegram account number, your language, when you first and "
                "last wrote to us, and what you choose to do here (for example, the activities "
                "you sign up for)."
            ),
            turn._(
                "What we never store: your phone number, or what you write to me, except a "
                "question or a suggestion you choose to send to our team."
            ),
            turn._("Why: to answer you in your language and to send you only what you asked for."),
            turn._(
                "You can delete everything at any time with %(forget)s. "
                "See this notice again with %(privacy)s.",
                forget="/forget",
                privacy="/privacy",
            ),
        )
    )


def start_payload(turn: Turn) -> str:
    """The deep link a `/start` carries, if it is one of ours; kept through onboarding."""
    event_input = turn.event.input
    if not isinstance(event_input, Command) or event_input.name != "start":
        return ""
    payload = event_input.args
    return payload if is_our_payload(payload) else ""


def is_our_payload(payload: str) -> bool:
    """A card, invitation or role link (anything else is ignored)."""
    return parse_link(payload) is not None or ROLE_LINK.match(payload) is not None


async def ask_language(turn: Turn, *, edit: bool = False, payload: str = "") -> list[Reply]:
    """Offer every language by its native name, the one the phone suggests first."""
    suggested = (turn.user and turn.user.locale) or match_locale(turn.sender.language_code)
    count = len(SHIPPED_LOCALES)
    text = "🌍 " + turn.ngettext(
        "I speak %(count)s language. Choose yours:",
        "I speak %(count)s languages. Choose yours:",
        count,
    )
    payload = payload or start_payload(turn)
    return [Message(text, language_keyboard(suggested, payload), edit=edit)]


async def ask_consent(turn: Turn, *, edit: bool = False, payload: str = "") -> list[Reply]:
    """The welcome and the privacy notice, with agree / decline buttons."""
    welcome = "👋 " + turn._(
        "Welcome to Passaparola! I help you find volunteering opportunities and local services "
        "in your city, in your language."
    )
    keyboard = consent_keyboard(turn.t, payload or start_payload(turn))
    return [Message(f"{welcome}\n\n{privacy_notice(turn)}", keyboard, edit=edit)]


async def show_menu(turn: Turn, *, edit: bool = False, greeting: str | None = None) -> list[Reply]:
    """The main menu, optionally after a line of greeting."""
    question = turn._("What would you like to do?")
    text = f"{greeting}\n\n{question}" if greeting else question
    return [Message(text, main_menu(turn.t), edit=edit)]


ROLE_LINK = re.compile(roles.TOKEN_PATTERN)


@router.command("start")
async def start(turn: Turn) -> list[Reply]:
    """/start: a returning user gets the menu, or what the link they opened points to."""
    payload = start_payload(turn)
    if payload:
        return await follow_payload(turn, payload, new_user=False)
    return await show_menu(turn, greeting="👋 " + turn._("Welcome back to Passaparola!"))


async def follow_payload(turn: Turn, payload: str, *, new_user: bool) -> list[Reply]:
    """Open a shared card or invitation (counting the referral), or accept a role link."""
    if (role_link := ROLE_LINK.match(payload)) is not None:
        return await roles.accept(turn, role_link["token"])
    link = parse_link(payload)
    if link is None:
        return await show_menu(turn)
    return await sharing.open_link(turn, link, new_user=new_user)


@router.command("language")
async def language(turn: Turn) -> list[Reply]:
    """/language: show the language keyboard."""
    return await ask_language(turn)


@router.button("lang")
async def choose_language(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """lang:pick shows the keyboard; lang:set:<code> saves the language (then consent, if new)."""
    if args == ("pick",):
        return await ask_language(turn, edit=True)
    if len(args) not in (2, 3) or args[0] != "set" or args[1] not in SHIPPED_LOCALES:
        raise Expired
    locale = args[1]
    payload = args[2] if len(args) == 3 else ""
    if payload and not is_our_payload(payload):
        raise Expired
    if turn.user is None:
        turn.user = await turn.users.create(turn.sender.channel, turn.sender.user_id, locale)
    else:
        await turn.users.set_locale(turn.user, locale)
    turn.speak(locale)
    replies: list[Reply] = [command_menu(turn)]
    if turn.user.consented_at is None:
        return replies + await ask_consent(turn, edit=True, payload=payload)
    chosen = "✅ " + turn._("Language: %(language)s", language=native_name(locale))
    return replies + await show_menu(turn, edit=True, greeting=chosen)


@router.button("consent")
async def consent(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """consent:yes[:<link>] records consent and opens the menu (and the link the person came
    with); consent:no deletes the language choice."""
    payload = args[1] if len(args) == 2 and args[0] == "yes" and is_our_payload(args[1]) else ""
    if payload:
        args = ("yes",)
    if args not in (("yes",), ("no",)) or turn.user is None:
        raise Expired
    if args == ("no",):
        if turn.user.consented_at is not None:
            raise Expired  # an old notice's button; deleting an account asks via /forget
        await turn.users.forget(turn.user)
        return [
            CommandMenu(()),
            Message(
                turn._(
                    "Okay. We deleted your language choice and keep nothing about you. "
                    "Send %(start)s whenever you want to come back.",
                    start="/start",
                ),
                edit=True,
            ),
        ]
    new_user = turn.user.consented_at is None
    if new_user:
        await turn.users.give_consent(turn.user)
    # The notice stays readable above the menu, in the same message.
    replies: list[Reply] = [
        Toast(turn._("Thank you!")),
        *await show_menu(turn, edit=True, greeting=privacy_notice(turn)),
    ]
    if payload:
        replies += await follow_payload(turn, payload, new_user=new_user)
    return replies
