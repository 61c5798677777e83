"""Word of mouth end to end: the real Application, inline mode and deep links over HTTP."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import LinkOpen, Referral, Share
from tests.support.opportunities import seed_city
from tests.test_e2e import labels, onboard


def open_button(message: dict) -> str:
    [[key]] = message["reply_markup"]["inline_keyboard"]
    return key["url"]


async def rows(conversation, model) -> int:
    async with conversation.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_card_shared_inline_opens_for_a_new_user_in_their_language(
    conversation, bot, client
):
    city = await seed_city(conversation)
    homework = city.opportunities["homework"]
    sara = await client.add_user("Sara", "it")
    await onboard(sara, "Italiano")
    await sara.send("/volunteer")
    await sara.next_reply()
    await sara.press("📚")
    await sara.next_reply()
    await sara.press("Doposcuola")
    card = await sara.next_reply()
    share = next(
        key for row in card["reply_markup"]["inline_keyboard"] for key in row
        if "switch_inline_query" in key
    )  # fmt: skip
    assert share["switch_inline_query"] == f"o{homework}"

    answer = await sara.inline_query(share["switch_inline_query"])
    assert answer["is_personal"] and answer["cache_time"] > 0
    amina = await client.add_user("Amina", "ar")
    posted = await sara.post_inline(answer, f"o{homework}", chat_id=amina.id)
    assert posted["via_bot"]["username"] and "Doposcuola" in posted["text"], "in Sara's language"

    link = open_button(posted)
    payload = link.split("?start=")[1]
    await amina.send(f"/start {payload}")
    picker = await amina.next_reply()
    assert "العربية" in labels(picker)[0], "the language step comes first"
    await amina.press("العربية")
    await amina.next_reply()  # the privacy notice, in Arabic
    await amina.press("✅")
    await amina.next_reply()  # the notice with the menu
    opened = await amina.next_reply()
    assert "نادي الواجبات" in opened["text"], "the shared card, now in Amina's language"

    await amina.send(f"/start {payload}")  # opened again: still one referral, one open
    await amina.next_reply()
    assert await rows(conversation, Referral) == 1
    assert await rows(conversation, LinkOpen) == 1
    assert await rows(conversation, Share) == 1


async def test_typed_inline_queries_answer_in_each_typers_language(conversation, bot, client):
    await seed_city(conversation)
    mehmet = await client.add_user("Mehmet", "tr")
    await onboard(mehmet, "Türkçe")
    oksana = await client.add_user("Oksana", "uk")
    await onboard(oksana, "Українська")

    turkish = await mehmet.inline_query("Doposcuola")
    ukrainian = await oksana.inline_query("Doposcuola")

    homework_tr = next(r for r in turkish["results"] if r["title"] == "Doposcuola")
    homework_uk = next(r for r in ukrainian["results"] if r["title"] == "Doposcuola")
    assert "İtalyanca" in homework_tr["input_message_content"]["message_text"]
    assert "італійськ" in homework_uk["input_message_content"]["message_text"]
    assert open_button(homework_tr) != open_button(homework_uk), "each carries its own code"
