"""Services: categories, and a card with Babel-formatted hours and a map link."""

from __future__ import annotations

import pytest

from bot.conversation import Conversation
from bot.i18n import FIRST_STRONG_ISOLATE
from storage.services import ServiceRepository
from tests.support.chat import Person, buttons, texts

CLINIC = {
    "it": {"name": "Ambulatorio Migranti", "description": "Visite gratuite.", "for_whom": "Tutti"},
    "en": {"name": "Migrant Clinic", "description": "Free check-ups.", "for_whom": "Everyone"},
}


@pytest.fixture
async def clinic(conversation: Conversation) -> int:
    async with conversation.sessionmaker() as session:
        service_id = await ServiceRepository(session).save_service(
            "clinic", "health", "it", CLINIC,
            address="Via Roma 1, Cesena", phone="+39 0547 000 210",
            website="https://clinic.example", languages=["it", "ar"], free=True,
            hours=[{"days": ["mon", "wed"], "open": "09:00", "close": "12:30"}],
        )  # fmt: skip
        await session.commit()
    return service_id


async def test_services_are_browsed_by_category(conversation, clinic):
    person = Person(conversation, user_id="8001")
    await person.onboard("en")

    home = await person.press("menu:services")
    health = await person.press(buttons(home)["🩺 Health (1)"])

    assert buttons(health)["Migrant Clinic"] == f"svc:show:{clinic}:health"


async def test_a_service_card_in_arabic_has_hours_phone_and_a_map(conversation, clinic):
    person = Person(conversation, user_id="8002", language_code="ar")
    await person.onboard("ar")

    replies = await person.press(f"svc:show:{clinic}:health")

    text = texts(replies)
    assert "Ambulatorio Migranti" in text or "Migrant Clinic" in text
    assert "الاثنين" in text or "الإثنين" in text, "day names from Babel, in Arabic"
    assert "٩:٠٠" in text or "9:00" in text or "09:00" in text
    assert f"{FIRST_STRONG_ISOLATE}+39 0547 000 210" in text
    links = buttons(replies).values()
    assert any(
        link.startswith("https://www.openstreetmap.org/search?query=Via+Roma") for link in links
    )
    assert "https://clinic.example" in links
    assert any(link.startswith("https://t.me/share/url?") for link in links)


async def test_a_forged_service_button_expires(conversation, clinic):
    person = Person(conversation, user_id="8003")
    await person.onboard("en")

    for data in ("svc:show:99999:health", "svc:cat:spaceships", "svc:show:x:health"):
        assert "expired" in texts(await person.press(data)), data
