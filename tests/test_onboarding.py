"""First visit: language, welcome and privacy notice, consent; returning users."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import Conversation
from bot.i18n import SHIPPED_LOCALES, native_name
from storage.models import User
from tests.support.chat import Person, buttons, command_menus, messages, texts, toasts


async def stored_users(conversation: Conversation) -> list[User]:
    async with conversation.sessionmaker() as session:
        return list(await session.scalars(select(User)))


async def test_first_start_offers_every_language_by_native_name_suggested_first(conversation):
    replies = await Person(conversation, language_code="ar-EG").command("start")

    keyboard = messages(replies)[0].keyboard
    labels = [key.label for row in keyboard for key in row]
    assert labels[0] == "✅ " + native_name("ar") == "✅ العربية"
    assert len(labels) == len(SHIPPED_LOCALES)
    assert {"Türkçe", "اردو", "Kurdî (kurmancî)", "کوردیی ناوەندی", "Українська"} <= set(labels)
    assert keyboard[0][0].data == "lang:set:ar"
    assert await stored_users(conversation) == [], "nothing is stored before a language is chosen"


async def test_without_a_telegram_language_english_comes_first(conversation):
    replies = await Person(conversation, language_code=None).command("start")

    first = messages(replies)[0].keyboard[0][0]
    assert first.data == "lang:set:en"
    assert "16 languages" in texts(replies)


async def test_unshipped_telegram_language_falls_back_to_english_first(conversation):
    replies = await Person(conversation, language_code="pt-BR").command("start")

    assert messages(replies)[0].keyboard[0][0].data == "lang:set:en"


async def test_picking_a_language_shows_welcome_and_privacy_notice_in_it(conversation):
    person = Person(conversation, language_code="tr")
    await person.command("start")
    replies = await person.press("lang:set:it")

    text = texts(replies)
    assert "Passaparola" in text and "/forget" in text and "/privacy" in text
    assert "Benvenut" in text or "benvenuto" in text
    assert {"lang:set:it"}.isdisjoint(buttons(replies).values())
    assert set(buttons(replies).values()) == {"consent:yes", "consent:no"}
    [user] = await stored_users(conversation)
    assert (user.locale, user.consented_at, user.roles) == ("it", None, [])


async def test_agreeing_records_consent_and_opens_the_menu(conversation):
    person = Person(conversation, language_code="en")
    replies = await person.onboard("en")

    assert toasts(replies) == ["Thank you!"]
    assert set(buttons(replies).values()) == {
        "menu:volunteer", "menu:ask", "menu:services", "menu:share", "menu:settings",
    }  # fmt: skip
    [user] = await stored_users(conversation)
    assert user.consented_at is not None


async def test_declining_deletes_the_language_choice(conversation):
    person = Person(conversation)
    await person.command("start")
    await person.press("lang:set:de")
    replies = await person.press("consent:no")

    assert "/start" in texts(replies)
    assert await stored_users(conversation) == []


async def test_before_consent_other_input_shows_the_notice_again(conversation):
    person = Person(conversation)
    await person.command("start")
    await person.press("lang:set:en")

    for replies in (await person.text("hello"), await person.press("menu:volunteer")):
        assert set(buttons(replies).values()) == {"consent:yes", "consent:no"}


async def test_returning_user_gets_the_menu_in_their_language(conversation):
    person = Person(conversation, language_code="en")
    await person.onboard("es")

    replies = await person.command("start")

    assert "Passaparola" in texts(replies)
    assert "menu:volunteer" in buttons(replies).values()
    assert any("Voluntari" in label for label in buttons(replies))


async def test_choosing_a_language_sets_the_chat_command_list_in_it(conversation):
    person = Person(conversation)
    await person.command("start")
    replies = await person.press("lang:set:uk")

    [menu] = command_menus(replies)
    names = [name for name, _ in menu.commands]
    assert names == ["start", "menu", "volunteer", "find", "suggest", "invite", "reach",
                     "language", "help", "privacy", "mydata", "forget"]  # fmt: skip
    assert all(any("\u0400" <= ch <= "\u04ff" for ch in text) for _, text in menu.commands)


async def test_configured_admins_get_the_admin_role(conversation):
    admin = Person(conversation, user_id="4242")
    await admin.onboard("en")
    await admin.command("menu")

    [user] = await stored_users(conversation)
    assert user.roles == ["admin"]


async def test_forgetting_resets_the_chat_command_list(conversation):
    person = Person(conversation, language_code="en")
    await person.onboard("ar")

    [reset] = command_menus(await person.press("forget:yes"))
    assert reset.commands == ()


async def test_sorani_gets_a_chat_command_list_as_telegram_has_no_two_letter_code(conversation):
    person = Person(conversation, language_code="ckb")
    await person.command("start")

    [menu] = command_menus(await person.press("lang:set:ckb"))
    assert dict(menu.commands)["help"] != "What I can do and how"
