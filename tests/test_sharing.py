"""Word of mouth on the conversation core: links, referrals, inline results, QR codes, figures."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlparse

import pytest
import segno
from matplotlib import image
from sqlalchemy import func, select

from bot.turn import Document, InlineChosen, InlineQuery, InlineResults, Picture
from handlers.links import Link, parse_link
from handlers.sharing import qr_png
from storage.models import LinkOpen, Referral, Share, Signup
from storage.referrals import CODE_LENGTH
from storage.services import ServiceRepository
from tests.support.chat import BOT_URL, Person, buttons, texts
from tests.support.opportunities import seed_city, user_row
from tests.test_services import CLINIC


def inline_results(replies) -> InlineResults:
    [answer] = [reply for reply in replies if isinstance(reply, InlineResults)]
    return answer


def link_in(replies, label_start: str = "🔗") -> str:
    """The deep link behind a "Send the link" button."""
    url = next(value for label, value in buttons(replies).items() if label.startswith(label_start))
    return parse_qs(urlparse(url).query)["url"][0]


def payload_of(link: str) -> str:
    assert link.startswith(BOT_URL + "?start="), link
    return link.removeprefix(BOT_URL + "?start=")


async def count(conversation, model, *where) -> int:
    async with conversation.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def shared_link(conversation, sharer: Person, opportunity_id: int) -> str:
    replies = await sharer.press(f"vol:card:{opportunity_id}:home")
    return link_in(replies)


# --- links -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "o",
        "o0",
        "o12345678901",
        "x12",
        "o12_short",
        "o12_" + "A" * (CODE_LENGTH + 1),
        "o12_abc$efghij",
        "i_",
        "s1_" + "a" * CODE_LENGTH + "_more",
        "o1" + "_" * 70,
        "o١٢",
    ],
)
def test_malformed_payloads_are_not_links(payload):
    assert parse_link(payload) is None


def test_links_round_trip_and_fit_telegrams_rules():
    code = "aB3dE6gH9j"
    for link in (Link("o", 1234567890, code), Link("s", 7, None), Link("i", None, code)):
        assert parse_link(link.payload) == link
        assert len(link.payload) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "_-") for c in link.payload)


async def test_a_shared_card_opens_for_a_newcomer_in_their_language_after_onboarding(
    conversation,
):
    city = await seed_city(conversation)
    sara = Person(conversation, user_id="2001", language_code="it")
    await sara.onboard("it")
    link = await shared_link(conversation, sara, city.opportunities["homework"])
    payload = payload_of(link)
    code = payload.split("_")[1]
    assert len(code) == CODE_LENGTH and "2001" not in code, "a random code, not the account id"

    amina = Person(conversation, user_id="2002", language_code="ar")
    picker = await amina.command("start", payload)
    assert all(payload in data for data in buttons(picker).values()), "the link is carried on"
    notice = await amina.press(f"lang:set:ar:{payload}")
    assert any(payload in data for data in buttons(notice).values())
    replies = await amina.press(f"consent:yes:{payload}")

    assert "نادي الواجبات" in texts(replies), "the card, in Arabic, right after the notice"
    assert await count(conversation, Referral, Referral.receiver_id.is_not(None)) == 1
    opens = await count(conversation, LinkOpen, LinkOpen.new_user.is_(True), LinkOpen.depth == 1)
    assert opens == 1


async def test_the_first_referrer_wins_and_a_referral_counts_once(conversation):
    city = await seed_city(conversation)
    sara, luca = Person(conversation, "3001"), Person(conversation, "3002")
    await sara.onboard("en")
    await luca.onboard("en")
    from_sara = payload_of(await shared_link(conversation, sara, city.opportunities["homework"]))
    from_luca = payload_of(await shared_link(conversation, luca, city.opportunities["tandem"]))

    mehmet = Person(conversation, "3003", language_code="tr")
    await mehmet.command("start", from_sara)
    await mehmet.press(f"lang:set:tr:{from_sara}")
    await mehmet.press(f"consent:yes:{from_sara}")
    await mehmet.command("start", from_luca)  # a second friend's link, later
    await mehmet.command("start", from_sara)  # and the first one again

    sara_row, luca_row = await user_row(conversation, "3001"), await user_row(conversation, "3002")
    assert await count(conversation, Referral, Referral.referrer_id == sara_row.id) == 1
    assert await count(conversation, Referral, Referral.referrer_id == luca_row.id) == 0
    assert await count(conversation, LinkOpen) == 2, "one open per person and card"


async def test_opening_ones_own_link_counts_for_nothing(conversation):
    city = await seed_city(conversation)
    sara = Person(conversation, "4001")
    await sara.onboard("en")
    payload = payload_of(await shared_link(conversation, sara, city.opportunities["homework"]))

    replies = await sara.command("start", payload)

    assert "Homework club" in texts(replies)
    assert await count(conversation, Referral) == 0
    opens = await count(conversation, LinkOpen, LinkOpen.referrer_id.is_not(None))
    assert opens == 0


@pytest.mark.parametrize(
    "payload", ["o99999_aaaaaaaaaa", "s1_" + "Z" * CODE_LENGTH, "garbage!", "o1" + "x" * 80]
)
async def test_forged_malformed_or_oversized_payloads_get_the_menu(conversation, payload):
    await seed_city(conversation)
    sam = Person(conversation, "5001")
    await sam.onboard("en")

    replies = await sam.command("start", payload)

    assert "menu:volunteer" in buttons(replies).values()
    assert await count(conversation, Referral) == 0


async def test_a_forged_payload_on_the_language_button_is_refused(conversation):
    newcomer = Person(conversation, "5101")
    await newcomer.command("start", "o1")

    replies = await newcomer.press("lang:set:en:o1_abc")

    assert "This button has expired." in texts(replies)
    assert await count(conversation, Referral) == 0


async def test_a_shared_service_link_opens_the_service_card(conversation):
    async with conversation.sessionmaker() as session:
        clinic = await ServiceRepository(session).save_service(
            "clinic", "health", "it", CLINIC, address="Via Roma 1, Cesena"
        )
        await session.commit()
    sam = Person(conversation, "5201")
    await sam.onboard("en")

    replies = await sam.command("start", f"s{clinic}")

    assert "Migrant Clinic" in texts(replies) and "Via Roma 1" in texts(replies)
    assert await count(conversation, LinkOpen, LinkOpen.kind == "s") == 1


# --- inline mode -----------------------------------------------------------------------------


async def test_inline_results_are_in_the_typers_language_with_their_referral_link(conversation):
    city = await seed_city(conversation)
    amina, sara = Person(conversation, "6001", "ar"), Person(conversation, "6002", "it")
    await amina.onboard("ar")
    await sara.onboard("it")
    homework = city.opportunities["homework"]

    arabic = inline_results(await amina.say(InlineQuery(f"o{homework}")))
    italian = inline_results(await sara.say(InlineQuery(f"o{homework}")))

    [card_ar], [card_it] = arabic.cards, italian.cards
    assert card_ar.title == "نادي الواجبات" and "ساعد الأطفال" in card_ar.text
    assert card_it.title == "Doposcuola" and "Descrizione di Doposcuola" in card_it.text
    code_ar = (await user_row(conversation, "6001")).referral_code
    [[open_ar]] = card_ar.keyboard
    assert open_ar.url == f"{BOT_URL}?start=o{homework}_{code_ar}"
    assert open_ar.url in card_ar.text, "a forwarded copy still shows the link"
    assert arabic.personal and italian.personal and 0 < arabic.cache_seconds <= 300


async def test_typed_inline_queries_search_opportunities_and_services(conversation):
    city = await seed_city(conversation)
    sam = Person(conversation, "6101", "en")
    await sam.onboard("en")

    answer = inline_results(await sam.say(InlineQuery("homework")))

    ids = [card.result_id for card in answer.cards]
    assert f"o{city.opportunities['homework']}" in ids
    assert all(len(card.result_id.encode()) <= 64 for card in answer.cards)


async def test_inline_queries_from_strangers_store_nothing_and_offer_the_bot(conversation):
    city = await seed_city(conversation)
    stranger = Person(conversation, "6201", "tr")

    answer = inline_results(await stranger.say(InlineQuery(f"o{city.opportunities['dinner']}")))
    await stranger.say(InlineChosen(f"o{city.opportunities['dinner']}"))

    [card] = answer.cards
    [[open_button]] = card.keyboard
    assert open_button.url == f"{BOT_URL}?start=o{city.opportunities['dinner']}", "no code"
    assert answer.start is not None and answer.start[1] == "inline"
    assert await count(conversation, Share) == 0


async def test_hostile_inline_queries_are_cleaned_and_bounded(conversation):
    city = await seed_city(conversation)
    sam = Person(conversation, "6301", "en")
    await sam.onboard("en")

    async def found(query: str) -> list[str]:
        answer = inline_results(await sam.say(InlineQuery(query)))
        assert len(answer.cards) <= 10
        return [card.result_id for card in answer.cards]

    homework = f"o{city.opportunities['homework']}"
    assert homework in await found("\u202ehomework\u200b\x00"), (
        "found despite bidi and zero-width characters"
    )
    assert homework in await found("\ud800homework"), "found despite a lone surrogate"
    for query in ("x" * 5000, "' OR 1=1 --", "*", '"homework'):
        assert await found(query) in (["i"], ["i", homework]), "only the invitation, or a match"


async def test_posting_an_inline_card_counts_a_share(conversation):
    city = await seed_city(conversation)
    sara = Person(conversation, "6401", "en")
    await sara.onboard("en")

    await sara.say(InlineChosen(f"o{city.opportunities['homework']}"))
    await sara.say(InlineChosen("not-ours"))

    assert await count(conversation, Share) == 1


# --- invitations and QR codes ----------------------------------------------------------------


def qr_modules(png: bytes, size: int) -> list[list[bool]]:
    """Read a QR code image back into its module matrix (True = dark)."""
    pixels = image.imread(io.BytesIO(png))
    if pixels.ndim == 3:
        pixels = pixels[:, :, :3].mean(axis=2)
    width = pixels.shape[0]
    scale = width / (size + 8)  # 4 modules of border on each side
    return [
        [
            bool(pixels[int((row + 4.5) * scale), int((col + 4.5) * scale)] < 0.5)
            for col in range(size)
        ]
        for row in range(size)
    ]


async def test_invite_gives_a_personal_link_and_a_qr_code_that_encodes_it(conversation):
    sam = Person(conversation, "7001", "en")
    await sam.onboard("en")

    replies = await sam.command("invite")

    code = (await user_row(conversation, "7001")).referral_code
    link = f"{BOT_URL}?start=i_{code}"
    assert link in texts(replies)
    [picture] = [reply for reply in replies if isinstance(reply, Picture)]
    expected = segno.make(link, error="m")
    matrix = [[bool(module) for module in row] for row in expected.matrix]
    assert qr_modules(picture.content, len(matrix)) == matrix
    someone_else = qr_png(f"{BOT_URL}?start=i_{'x' * CODE_LENGTH}")
    assert qr_modules(someone_else, len(matrix)) != matrix, "the comparison tells links apart"


async def test_an_invited_newcomer_is_credited_to_the_inviter(conversation):
    sam = Person(conversation, "7101", "en")
    await sam.onboard("en")
    await sam.command("invite")
    code = (await user_row(conversation, "7101")).referral_code

    friend = Person(conversation, "7102", "uk")
    await friend.command("start", f"i_{code}")
    await friend.press(f"lang:set:uk:i_{code}")
    await friend.press(f"consent:yes:i_{code}")

    replies = await sam.command("reach")
    assert "Your shares brought 1 person to Passaparola." in texts(replies)
    assert await count(conversation, Referral) == 1


# --- figures ---------------------------------------------------------------------------------


async def seed_chain(conversation, opportunity_id: int, length: int) -> list[Person]:
    """A card passed from person to person `length` times, each a newcomer in another language."""
    locales = ["it", "ar", "tr", "uk", "fa", "ur", "de"]
    first = Person(conversation, "8000", "it")
    await first.onboard("it")
    people = [first]
    for hop in range(1, length + 1):
        sharer = people[-1]
        payload = payload_of(await shared_link(conversation, sharer, opportunity_id))
        await sharer.say(InlineChosen(f"o{opportunity_id}"))
        locale = locales[hop % len(locales)]
        newcomer = Person(conversation, str(8000 + hop), locale)
        await newcomer.command("start", payload)
        await newcomer.press(f"lang:set:{locale}:{payload}")
        await newcomer.press(f"consent:yes:{payload}")
        people.append(newcomer)
    return people


async def test_my_reach_counts_people_brought_and_sign_ups_without_names(conversation):
    city = await seed_city(conversation)
    people = await seed_chain(conversation, city.opportunities["homework"], 1)
    before = texts(await people[0].command("reach"))
    friend = people[1]
    await friend.press(f"vol:join:{city.opportunities['homework']}:home")
    await friend.press(f"vol:yes:{city.opportunities['homework']}:home")
    assert await count(conversation, Signup) == 1

    text = texts(await people[0].command("reach"))

    italian = conversation.catalog.translator("it")  # the first sharer reads Italian

    def joined(count: int) -> str:
        return italian.ngettext(
            "%(count)s of them signed up for something.",
            "%(count)s of them signed up for something.",
            count,
        )

    brought = italian.ngettext(
        "Your shares brought %(count)s person to Passaparola.",
        "Your shares brought %(count)s people to Passaparola.",
        1,
    )
    assert brought in before and brought in text
    assert joined(0) in before and joined(1) in text
    assert "8001" not in text and "Test" not in text, "no names, no accounts"


async def test_staff_figures_show_the_depth_of_a_referral_chain_and_reach_by_language(
    conversation,
):
    city = await seed_city(conversation)
    homework = city.opportunities["homework"]
    await seed_chain(conversation, homework, 3)
    admin = Person(conversation, "4242", "en")  # ADMIN_IDS in the test settings
    await admin.onboard("en")

    replies = await admin.command("reach")

    text = texts(replies)
    assert "shared 3 · opened 3 · new people 3" in text
    assert "longest chain 3" in text
    for language in ("العربية", "Türkçe", "Українська"):
        assert language in text
    assert "#" in text and "8000" not in text, "sharers by pseudonymous code only"
    [chart] = [reply for reply in replies if isinstance(reply, Picture)]
    assert chart.content.startswith(b"\x89PNG") and "blue" in chart.caption
    details = await admin.press(f"reach:o:{homework}")
    assert "longest chain 3" in texts(details)


async def test_a_sharer_who_opts_in_is_named_in_staff_figures(conversation):
    city = await seed_city(conversation)
    people = await seed_chain(conversation, city.opportunities["homework"], 1)
    await people[0].press("reach:named")
    admin = Person(conversation, "4242", "en")
    await admin.onboard("en")

    assert "Test (1)" in texts(await admin.command("reach"))
    await people[0].press("reach:anon")
    assert "Test (1)" not in texts(await admin.command("reach"))


async def test_plain_users_cannot_see_staff_figures(conversation):
    city = await seed_city(conversation)
    await seed_chain(conversation, city.opportunities["homework"], 1)
    sam = Person(conversation, "9001", "en")
    await sam.onboard("en")

    replies = await sam.command("reach")
    forged = await sam.press(f"reach:o:{city.opportunities['homework']}")
    staff = await sam.press("reach:staff")

    assert "opened" not in texts(replies) + texts(forged) + texts(staff)
    assert not [reply for reply in replies if isinstance(reply, Picture)]


async def test_mydata_holds_the_sharing_counts_and_no_one_elses_identity(conversation):
    city = await seed_city(conversation)
    people = await seed_chain(conversation, city.opportunities["homework"], 2)
    middle = people[1]  # brought by the first person, and brought the third

    replies = await middle.command("mydata")

    [document] = [reply for reply in replies if isinstance(reply, Document)]
    data = json.loads(document.content)
    code = (await user_row(conversation, middle.user_id)).referral_code
    assert data["sharing"] == {
        "referral_code": code,
        "name_shown_to_staff": None,
        "cards_shared": 1,
        "people_brought": 1,
        "of_them_signed_up": 0,
        "arrived_through_a_friends_link": True,
    }
    text = document.content.decode()
    for other in (people[0], people[2]):
        other_row = await user_row(conversation, other.user_id)
        assert other.user_id not in text and str(other_row.referral_code) not in text
