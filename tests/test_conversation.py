"""After onboarding: menu, settings, language switch, help, privacy, and everything unexpected."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.conversation import Conversation
from bot.i18n import Catalog
from bot.turn import Membership
from storage.db import create_engine, create_sessionmaker
from storage.models import User, UserStatus
from tests.support.chat import Person, buttons, command_menus, messages, texts, toasts
from tests.support.opportunities import seed_city

MAIN_MENU = {"menu:volunteer", "menu:ask", "menu:services", "menu:share", "menu:settings"}


async def onboarded(conversation: Conversation, locale: str = "en", **kwargs) -> Person:
    person = Person(conversation, **kwargs)
    await person.onboard(locale)
    return person


async def the_user(conversation: Conversation) -> User | None:
    async with conversation.sessionmaker() as session:
        return await session.scalar(select(User))


async def test_share_gives_a_link_to_the_bot_and_a_share_button(conversation):
    person = await onboarded(conversation)

    replies = await person.press("menu:share")

    assert "https://t.me/passaparola_test_bot" in texts(replies)
    share_url = next(
        url for url in buttons(replies).values() if url.startswith("https://t.me/share")
    )
    assert "url=https%3A%2F%2Ft.me%2Fpassaparola_test_bot" in share_url


async def test_settings_language_switch_changes_every_later_reply(conversation):
    person = await onboarded(conversation, "en")

    settings_page = await person.press("menu:settings")
    assert "Language: English" in " ".join(buttons(settings_page))
    await person.press("lang:pick")
    switched = await person.press("lang:set:tr")

    assert "Türkçe" in texts(switched)
    [menu] = command_menus(switched)
    assert dict(menu.commands)["language"] == "Dili değiştir"
    help_text = texts(await person.command("help"))
    assert "Dili değiştir" in help_text and "Change the language" not in help_text
    assert (await the_user(conversation)).locale == "tr"


async def test_settings_open_my_skills_and_my_areas_and_count_what_is_ticked(conversation):
    city = await seed_city(conversation)
    person = await onboarded(conversation, "en")

    settings_page = await person.press("menu:settings")
    skills = await person.press(buttons(settings_page)["🧰 My skills (0)"])
    ticked = await person.press("prefs:skill:cooking")
    areas = await person.press(buttons(await person.press("menu:settings"))["📍 My areas (0)"])
    await person.press(f"prefs:area:{city.areas['Vigne']}")
    await person.press(f"prefs:area:{city.areas['Oltre Savio']}")
    again = await person.press("menu:settings")

    assert "What are you good at?" in texts(skills)
    assert buttons(skills)["▫️ Cooking"] == "prefs:skill:cooking"
    assert buttons(ticked)["✅ Cooking"] == "prefs:skill:cooking"
    assert "Which areas of the city can you get to?" in texts(areas)
    assert {label: data for label, data in buttons(areas).items() if label.startswith("▫️")} == {
        f"▫️ {name}": f"prefs:area:{area_id}" for name, area_id in city.areas.items()
    }
    assert {"🧰 My skills (1)", "📍 My areas (2)"} <= set(buttons(again))


async def test_language_command_shows_the_current_language_first(conversation):
    person = await onboarded(conversation, "el", language_code="en")

    [message] = messages(await person.command("language"))

    assert message.keyboard[0][0].data == "lang:set:el"


async def test_help_explains_every_command(conversation):
    person = await onboarded(conversation, "en")

    text = texts(await person.command("help"))

    for command in ("/start", "/menu", "/language", "/help", "/privacy", "/forget"):
        assert command in text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("sticker", "pictures, stickers or files"),
        ("photo", "pictures, stickers or files"),
        ("voice", "voice messages"),
        ("location", "locations"),
        ("edited", "edited messages"),
        ("poll", "text messages and buttons"),
    ],
)
async def test_unsupported_messages_get_an_explanation_and_the_menu(conversation, kind, expected):
    person = await onboarded(conversation)

    replies = await person.send_kind(kind)

    assert expected in texts(replies)
    assert set(buttons(replies).values()) == MAIN_MENU


async def test_unknown_text_and_commands_get_help_and_the_menu(conversation):
    person = await onboarded(conversation, "en")

    for replies in (await person.text("asdf qwer"), await person.command("frobnicate")):
        assert "/help" in texts(replies)
        assert set(buttons(replies).values()) == MAIN_MENU
    assert "/frobnicate" in texts(await person.command("frobnicate"))


@pytest.mark.parametrize(
    "data",
    [
        "lang:set:xx",  # a locale we do not ship
        "lang:set:ar:extra",
        "menu:nowhere",
        "nosuch:action",
        "consent:maybe",
        "consent:no",  # an old privacy notice's button, after agreeing: must not delete anyone
        "forget:now",
        "menu:open:" + "x" * 60,  # longer than Telegram's 64 bytes
        "<script>",
        "",
    ],
)
async def test_forged_or_stale_buttons_expire_and_change_nothing(conversation, data):
    person = await onboarded(conversation, "en")
    before = await the_user(conversation)

    replies = await person.press(data)

    assert toasts(replies) == ["This button has expired."]
    assert set(buttons(replies).values()) == MAIN_MENU
    after = await the_user(conversation)
    assert (after.locale, after.consented_at, after.roles) == (
        before.locale, before.consented_at, before.roles,
    )  # fmt: skip


async def test_a_stranger_pressing_an_old_button_is_told_it_expired(conversation):
    replies = await Person(conversation).press("menu:settings")

    assert toasts(replies) == ["This button has expired."]
    assert await the_user(conversation) is None


async def test_group_chats_point_to_a_private_chat_and_store_nothing(conversation):
    replies = await Person(conversation, private=False).command("start")

    assert "private" in texts(replies)
    assert list(buttons(replies).values()) == ["https://t.me/passaparola_test_bot"]
    assert await the_user(conversation) is None


async def test_privacy_notice_is_available_again(conversation):
    person = await onboarded(conversation, "en")

    text = texts(await person.command("privacy"))

    assert "phone number" in text and "/forget" in text


async def test_forget_asks_first_then_deletes_everything(conversation):
    person = await onboarded(conversation, "en")

    question = await person.command("forget")
    assert set(buttons(question).values()) == {"forget:yes", "forget:no"}
    kept = await person.press("forget:no")
    assert "Nothing was deleted." in texts(kept)
    assert await the_user(conversation) is not None

    done = await person.press("forget:yes")
    assert "/start" in texts(done)
    assert await the_user(conversation) is None
    again = await person.command("start")
    assert messages(again)[0].keyboard[0][0].data.startswith("lang:set:")


async def test_blocking_stops_the_contact_and_writing_again_reactivates(conversation):
    person = await onboarded(conversation, "en")

    assert await person.say(Membership(joined=False)) == []
    assert (await the_user(conversation)).status is UserStatus.STOPPED

    await person.text("hello again")
    assert (await the_user(conversation)).status is UserStatus.ACTIVE


async def test_a_failure_gets_a_localized_error_with_an_id_and_alerts_admins(settings, catalog):
    engine = create_engine(settings.database_url)  # never migrated: every query fails
    broken = Conversation(settings, catalog, create_sessionmaker(engine))

    replies = await Person(broken, language_code="it").command("start")
    await engine.dispose()

    to_user, to_admin = messages(replies)
    assert to_user.to is None and "errore" in to_user.text.lower()
    error_id = to_user.text.split("(")[1].split(")")[0].split()[-1]
    assert len(error_id) == 8
    assert to_admin.to == "4242" and error_id in to_admin.text
    assert set(buttons([to_user]).values()) == MAIN_MENU


def test_catalog_refuses_missing_or_stale_compiled_catalogs(tmp_path):
    import os
    import shutil

    from bot.i18n import LOCALES_DIR, CatalogError

    shutil.copytree(LOCALES_DIR, tmp_path / "locales")
    italian = tmp_path / "locales" / "it" / "LC_MESSAGES"
    Catalog("en", locales_dir=tmp_path / "locales")  # a complete copy loads

    compiled = (italian / "messages.mo").stat()
    os.utime(italian / "messages.po", (compiled.st_atime, compiled.st_mtime + 10))
    with pytest.raises(CatalogError, match=r"older than its \.po"):
        Catalog("en", locales_dir=tmp_path / "locales")

    (italian / "messages.mo").unlink()
    with pytest.raises(CatalogError, match="missing"):
        Catalog("en", locales_dir=tmp_path / "locales")
