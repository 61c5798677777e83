"""Ask a question: emergency numbers first, then the best FAQ answers, and a human when needed.

The handover relays both ways through the bot: the asker and the helper never see each other's
name or account, only the question and the answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, native_name
from bot.router import Expired, Router, callback
from bot.turn import Command, Key, Message, Reply, Toast, Turn
from handlers.emergency import is_emergency
from handlers.keyboards import back_to_menu, main_menu
from handlers.notifications import renders
from storage.deliveries import DeliveryRepository
from storage.faq import FaqRepository
from storage.flows import FlowRepository
from storage.models import QuestionStatus, User
from storage.questions import QuestionRepository
from storage.services import ServiceRepository
from storage.text import terms

router = Router()

FLOW = "ask"  # while open, typed text is a question
ANSWER_FLOW = "answer"  # a helper typing the answer to a question they took
MAX_QUESTION_LENGTH = 500
MAX_ANSWER_LENGTH = 2000
MIN_COVERAGE = 0.34  # share of the question's terms an answer must contain to be offered


def user_id(turn: Turn) -> int:
    """The asker's id; asking needs a finished onboarding."""
    if turn.user is None:
        raise Expired
    return turn.user.id


def is_helper(turn: Turn) -> bool:
    """Helpers answer relayed questions (checked at the moment of each action)."""
    return turn.user is not None and bool({"helper", "admin"} & set(turn.user.roles))


def is_admin(turn: Turn) -> bool:
    """Admins promote good answers into the FAQ."""
    return turn.user is not None and "admin" in turn.user.roles


# --- asking ----------------------------------------------------------------------------------


async def invite(turn: Turn, *, edit: bool = True) -> list[Reply]:
    """Open the question flow: the next text the user types is their question."""
    await FlowRepository(turn.session).start(user_id(turn), FLOW, "question", {})
    text = "❓ " + turn._(
        "Type your question in your own language, for example: how do I see a doctor?"
    )
    return [Message(text, back_to_menu(turn.t), edit=edit)]


async def emergency_numbers(turn: Turn) -> Message:
    """The emergency numbers, named in the reader's language."""
    numbers = await ServiceRepository(turn.session).emergency_numbers()
    lines = ["🚨 " + turn._("If you or someone else is in danger, call now:")]
    for number in numbers:
        name = number.names.get(turn.t.locale) or number.names.get("en") or ""
        lines.append(f"📞 {turn.t.isolate(number.number)} — {name}")
    if not numbers:
        lines.append(f"📞 {turn.t.isolate('112')}")
    return Message("\n".join(lines))


async def answer_question(turn: Turn, question: str) -> list[Reply]:
    """Emergency numbers first if needed, then up to three answers, each with Yes / No."""
    asker = user_id(turn)
    question = " ".join(question.split())
    if not question:
        return await invite(turn, edit=False)
    if len(question) > MAX_QUESTION_LENGTH:
        text = "✂️ " + turn.ngettext(
            "Please keep your question under %(count)s character.",
            "Please keep your question under %(count)s characters.",
            MAX_QUESTION_LENGTH,
        )
        return [Message(text, back_to_menu(turn.t))]
    replies: list[Reply] = []
    if is_emergency(question, turn.t.locale):
        replies.append(await emergency_numbers(turn))
    faq = FaqRepository(turn.session)
    with turn.timed_search("faq"):
        hits = await faq.search(question, turn.t.locale, limit=3)
    answers = []
    for hit in hits:
        answer = await faq.answer(hit.item_id, turn.t.locale)
        if answer is not None and covers(question, turn.t.locale, answer):
            answers.append(answer)
    detected = hits[0].locale if hits else turn.t.locale
    await FlowRepository(turn.session).start(
        asker, FLOW, "answered", {"question": question, "locale": detected}
    )
    for answer in answers:
        text = f"💡 {answer.question}\n\n{answer.answer}"
        if answer.locale != turn.t.locale:
            text += "\n\n" + turn._("(in %(language)s)", language=native_name(answer.locale))
        keyboard = (
            (
                Key("👍 " + turn._("Helpful"), callback("faq", "yes", answer.id)),
                Key("👎 " + turn._("Not helpful"), callback("faq", "no", answer.id)),
            ),
        )
        replies.append(Message(text, keyboard))
    if answers:
        closing = turn._(
            "Was this helpful? If not, a volunteer who speaks your language can answer."
        )
    else:
        closing = "🤔 " + turn._(
            "I don't have a good answer to that yet. A volunteer who speaks your language can "
            "answer you here, without seeing your name or account."
        )
    replies.append(Message(closing, handover_keyboard(turn)))
    return replies


def covers(question: str, locale: str, answer: object) -> bool:
    """Is the answer about the question? At least a third of the question's terms appear in it."""
    asked = set(terms(question, locale))
    if not asked:
        return False
    text = f"{answer.question} {answer.answer}"  # type: ignore[attr-defined]
    found = set(terms(text, answer.locale)) | set(terms(text, locale))  # type: ignore[attr-defined]
    return len(asked & found) / len(asked) >= MIN_COVERAGE


def handover_keyboard(turn: Turn) -> tuple[tuple[Key, ...], ...]:
    """Ask a volunteer, ask something else, or go back."""
    return (
        (Key("🙋 " + turn._("Ask a volunteer"), callback("ask", "human")),),
        (Key("❓ " + turn._("Ask something else"), callback("ask", "again")),),
        *back_to_menu(turn.t),
    )


@router.flow(FLOW)
async def typed_question(turn: Turn, text: str) -> list[Reply]:
    """Text typed in the question flow is a question."""
    return await answer_question(turn, text)


@router.command("ask")
async def ask_command(turn: Turn) -> list[Reply]:
    """/ask [question]: answer it, or invite one."""
    event_input = turn.event.input
    question = event_input.args if isinstance(event_input, Command) else ""
    if question.strip():
        return await answer_question(turn, question)
    return await invite(turn, edit=False)


@router.button("faq")
async def rate_faq(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """faq:yes|no:<entry>: count the rating; 'no' offers a volunteer."""
    match args:
        case (verdict, entry) if verdict in ("yes", "no") and entry.isdigit():
            if await FaqRepository(turn.session).answer(int(entry), turn.t.locale) is None:
                raise Expired
            await FaqRepository(turn.session).rate(int(entry), verdict == "yes")
            if verdict == "yes":
                return [Toast(turn._("Thank you! Glad it helped."))]
            text = turn._("Sorry it didn't help. Would you like a volunteer to answer?")
            return [
                Toast(turn._("Thank you for telling us.")),
                Message(text, handover_keyboard(turn)),
            ]
    raise Expired


@router.button("ask")
async def ask_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """ask:again / ask:human / ask:rate:<question>:<1|0>."""
    match args:
        case ("again",):
            return await invite(turn)
        case ("human",):
            return await hand_over(turn)
        case ("rate", item, verdict) if item.isdigit() and verdict in ("1", "0"):
            return await rate_answer(turn, int(item), verdict == "1")
    raise Expired


async def hand_over(turn: Turn) -> list[Reply]:
    """Queue the user's last question for a volunteer who speaks its language."""
    asker = user_id(turn)
    flow = await FlowRepository(turn.session).current(asker)
    question = str(flow.data.get("question", "")) if flow and flow.name == FLOW else ""
    if not question:
        return await invite(turn)
    locale = str(flow.data.get("locale") or turn.t.locale) if flow else turn.t.locale
    questions = QuestionRepository(turn.session)
    item = await questions.create(asker, locale, question)
    deliveries = DeliveryRepository(turn.session)
    for helper in await questions.helpers_for(locale, exclude=asker):
        await deliveries.enqueue(
            helper, "question", {"question_id": item.id}, dedupe_key=f"question:{item.id}:{helper}"
        )
    await FlowRepository(turn.session).end(asker, FLOW)
    text = "📨 " + turn._(
        "Sent to our volunteers. When one of them answers, I will send you the answer here. "
        "They will not see your name or account."
    )
    return [Toast(turn._("Sent!")), Message(text, main_menu(turn.t), edit=True)]


async def rate_answer(turn: Turn, question_id: int, helpful: bool) -> list[Reply]:
    """The asker rates a volunteer's answer (once)."""
    questions = QuestionRepository(turn.session)
    item = await questions.get(question_id)
    if item is None or item.asker_id != user_id(turn) or not await questions.rate(item, helpful):
        raise Expired
    return [Toast(turn._("Thank you! We passed it on."))]


# --- helpers ---------------------------------------------------------------------------------


def not_a_helper(turn: Turn) -> list[Reply]:
    """What someone without the helper role gets for helper commands and buttons."""
    text = "🔒 " + turn._(
        "Only volunteer helpers can answer questions. Ask the city staff to join."
    )
    return [Message(text, back_to_menu(turn.t))]


@router.command("questions")
async def questions_command(turn: Turn) -> list[Reply]:
    """/questions: how many questions wait in the helper's language, and the next one."""
    if not is_helper(turn):
        return not_a_helper(turn)
    return await waiting(turn, edit=False)


async def waiting(turn: Turn, *, edit: bool) -> list[Reply]:
    """The count of waiting questions in the helper's language, with the oldest one."""
    assert turn.user is not None
    questions = QuestionRepository(turn.session)
    count = await questions.waiting_count(turn.t.locale)
    text = "🙋 " + turn.ngettext(
        "%(count)s question is waiting in your language.",
        "%(count)s questions are waiting in your language.",
        count,
    )
    oldest = await questions.oldest_waiting(turn.t.locale)
    rows: list[tuple[Key, ...]] = []
    if oldest is not None:
        text += f"\n\n❓ {oldest.question}"
        rows.append((Key("✍️ " + turn._("Answer it"), callback("hq", "take", oldest.id)),))
    rows.extend(back_to_menu(turn.t))
    return [Message(text, tuple(rows), edit=edit)]


@router.button("hq")
async def helper_button(turn: Turn, args: tuple[str, ...]) -> list[Reply]:
    """hq:take:<id> (helpers) and hq:promote:<id> (admins); the role is checked now."""
    match args:
        case ("take", item) if item.isdigit():
            if not is_helper(turn):
                return not_a_helper(turn)
            return await take(turn, int(item))
        case ("promote", item) if item.isdigit():
            if not is_admin(turn):
                return not_a_helper(turn)
            return await promote(turn, int(item))
        case ("next",):
            if not is_helper(turn):
                return not_a_helper(turn)
            return await waiting(turn, edit=True)
    raise Expired


async def take(turn: Turn, question_id: int) -> list[Reply]:
    """Claim a waiting question; the next text the helper types is the answer."""
    assert turn.user is not None
    questions = QuestionRepository(turn.session)
    item = await questions.get(question_id)
    if item is None or item.asker_id == turn.user.id:
        raise Expired
    if not await questions.claim(item, turn.user.id):
        return [
            Toast(turn._("Another volunteer is already answering this one.")),
            *await waiting(turn, edit=True),
        ]
    await FlowRepository(turn.session).start(
        turn.user.id, ANSWER_FLOW, "answer", {"question_id": item.id}
    )
    text = (
        "✍️ "
        + turn._("Type your answer. I will pass it on without your name.")
        + f"\n\n❓ {item.question}"
    )
    return [Message(text, ((Key("✖️ " + turn._("Cancel"), callback("hq", "next")),),), edit=True)]


@router.flow(ANSWER_FLOW)
async def typed_answer(turn: Turn, text: str) -> list[Reply]:
    """The helper's answer is relayed to the asker, who can rate it."""
    if not is_helper(turn):
        return not_a_helper(turn)
    assert turn.user is not None
    flow = await FlowRepository(turn.session).current(turn.user.id)
    assert flow is not None
    answer = text.strip()
    if not 2 <= len(answer) <= MAX_ANSWER_LENGTH:
        return [
            Message(
                "⚠️ "
                + turn._(
                    "Please write an answer of 2 to %(max)s characters.", max=MAX_ANSWER_LENGTH
                )
            )
        ]
    questions = QuestionRepository(turn.session)
    item = await questions.get(int(flow.data["question_id"]))
    await FlowRepository(turn.session).end(turn.user.id, ANSWER_FLOW)
    if item is None or not await questions.answer(item, turn.user.id, answer):
        raise Expired
    await DeliveryRepository(turn.session).enqueue(
        item.asker_id, "answer", {"question_id": item.id}, dedupe_key=f"answer:{item.id}"
    )
    for admin in await questions.admins():
        await DeliveryRepository(turn.session).enqueue(
            admin, "review", {"question_id": item.id}, dedupe_key=f"review:{item.id}:{admin}"
        )
    text = "✅ " + turn._("Thank you! Your answer is on its way.")
    return [
        Message(
            text,
            (
                (Key("🙋 " + turn._("Next question"), callback("hq", "next")),),
                *back_to_menu(turn.t),
            ),
        )
    ]


async def promote(turn: Turn, question_id: int) -> list[Reply]:
    """Turn a good volunteer answer into an FAQ entry (kept across content imports)."""
    questions = QuestionRepository(turn.session)
    item = await questions.get(question_id)
    if item is None or not item.answer or await questions.is_promoted(item):
        raise Expired
    faq = FaqRepository(turn.session)
    with turn.timed_search("faq"):
        related = await faq.search(item.question, item.locale, limit=1)
    category = "registration"
    if related:
        category = await faq.category(related[0].item_id) or category
    await faq.save(
        None,
        category,
        item.locale,
        {item.locale: (item.question, [], item.answer)},
        promoted_from=item.id,
    )
    return [
        Toast(turn._("Added to the answers.")),
        Message(
            "⭐ "
            + turn._("Added to the answers. Everyone asking something similar will get it now."),
            edit=True,
        ),
    ]


# --- relayed notifications (rendered at send time, in the recipient's language) ------------


@renders("question")
async def question_for_helper(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """A helper hears about a new question in their language (never who asked)."""
    item = await QuestionRepository(session).get(int(payload["question_id"]))
    if item is None or item.status is not QuestionStatus.WAITING:
        return None
    text = "🙋 " + t._("A newcomer asks:") + f"\n\n❓ {item.question}"
    return Message(text, ((Key("✍️ " + t._("Answer it"), callback("hq", "take", item.id)),),))


@renders("answer")
async def answer_for_asker(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """The asker gets the volunteer's answer (never who answered), and can rate it."""
    item = await QuestionRepository(session).get(int(payload["question_id"]))
    if item is None or not item.answer:
        return None
    text = (
        "💬 " + t._("A volunteer answered your question:") + f"\n\n❓ {item.question}\n\n"
        f"{item.answer}\n\n" + t._("Was this helpful?")
    )
    keyboard = (
        (
            Key("👍 " + t._("Helpful"), callback("ask", "rate", item.id, 1)),
            Key("👎 " + t._("Not helpful"), callback("ask", "rate", item.id, 0)),
        ),
    )
    return Message(text, keyboard)


@renders("review")
async def answer_for_admin(
    session: AsyncSession, t: Translator, user: User, payload: dict[str, Any]
) -> Message | None:
    """Admins see each volunteer answer and can promote a good one into the FAQ."""
    questions = QuestionRepository(session)
    item = await questions.get(int(payload["question_id"]))
    if item is None or not item.answer or await questions.is_promoted(item):
        return None
    text = (
        "📝 "
        + t._("A volunteer answered a question in %(language)s:", language=native_name(item.locale))
        + f"\n\n❓ {item.question}\n\n💬 {item.answer}"
    )
    return Message(
        text, ((Key("⭐ " + t._("Add to the answers"), callback("hq", "promote", item.id)),),)
    )
