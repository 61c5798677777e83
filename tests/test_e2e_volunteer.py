"""Volunteering end to end: the real Application, the playground over HTTP, the delivery worker."""

from __future__ import annotations

from tests.support.opportunities import make_coordinator, seed_city
from tests.test_e2e import labels, onboard


async def test_a_newcomer_finds_an_activity_signs_up_and_the_coordinator_hears(
    conversation, bot, client
):
    city = await seed_city(conversation)
    luca = await client.add_user("Luca", "it")
    await onboard(luca, "Italiano")
    await make_coordinator(conversation, str(luca.id), city.organisations["colori"])
    amina = await client.add_user("Amina", "ar")
    await onboard(amina, "العربية")

    await amina.press("🤝")  # Volunteer
    categories = await amina.next_reply()
    assert any(label.endswith("(2)") for label in labels(categories))
    await amina.press("📚")  # Education and homework help
    listing = await amina.next_reply()
    assert "نادي الواجبات" in labels(listing), "the title in Arabic"
    await amina.press("نادي الواجبات")
    card = await amina.next_reply()
    assert "ساعد الأطفال" in card["text"]
    await amina.press("🙋")
    consent = await amina.next_reply()
    assert "Amina" in consent["text"]
    await amina.press("✅")
    await amina.next_reply()  # "you are signed up"

    notice = await luca.next_reply(timeout=15)  # delivered by the worker, in Italian
    assert "Amina" in notice["text"] and "Doposcuola" in notice["text"]
    assert f"tg://user?id={amina.id}" in notice["text"]


async def test_mydata_arrives_as_a_json_file(bot, client, served):
    sam = await client.add_user("Sam", "en")
    await onboard(sam, "English")

    await sam.send("/mydata")

    reply = await sam.next_reply()
    assert reply["document"]["file_name"] == "passaparola-my-data.json"
    assert "/forget" in reply["caption"]
