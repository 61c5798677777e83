"""A small city for opportunity tests: two organisations, three areas, a handful of activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.conversation import Conversation
from storage.models import OpportunityStatus, Schedule, User, utcnow
from storage.opportunities import OpportunityData, OpportunityRepository
from storage.users import UserRepository


@dataclass
class City:
    """Ids of what was seeded, by a readable name."""

    organisations: dict[str, int] = field(default_factory=dict)
    areas: dict[str, int] = field(default_factory=dict)
    opportunities: dict[str, int] = field(default_factory=dict)


def next_weekday(weekday: int, hour: int, *, after: datetime | None = None) -> datetime:
    """The next given weekday (0 = Monday) at `hour` UTC, at least a day from now."""
    start = (after or utcnow()) + timedelta(days=1)
    days = (weekday - start.weekday()) % 7
    return (start + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def weekend_morning() -> datetime:
    """The next Saturday or Sunday at 09:00 UTC that is more than a day away, and within a week:
    late enough for a 24-hour reminder and early enough for the weekend filter, on any day."""
    candidate = (utcnow() + timedelta(hours=25)).replace(minute=0, second=0, microsecond=0)
    while candidate.weekday() not in (5, 6) or candidate.hour != 9:
        candidate += timedelta(hours=1)
    return candidate


def texts(title: str, **more: tuple[str, str, str]) -> dict[str, tuple[str, str, str]]:
    """Italian source texts plus any translations."""
    return {"it": (title, f"Descrizione di {title}.", "Scrivici."), **more}


async def seed_city(conversation: Conversation) -> City:
    """Publish a small set of opportunities that exercise every filter."""
    city = City()
    async with conversation.sessionmaker() as session:
        repository = OpportunityRepository(session, conversation.settings.zone)
        city.organisations["colori"] = await repository.ensure_organisation(
            "colori", "Casa dei Colori", "Cesena"
        )
        city.organisations["ponte"] = await repository.ensure_organisation(
            "ponte", "Il Ponte", "Cesena"
        )
        for name in ("Centro storico", "Oltre Savio", "Vigne"):
            city.areas[name] = await repository.ensure_area("Cesena", name)

        def data(**values: object) -> OpportunityData:
            base: dict[str, object] = {
                "organisation_id": city.organisations["colori"],
                "category": "education",
                "source_locale": "it",
                "city": "Cesena",
                "area_id": city.areas["Centro storico"],
                "contact": "+39 0547 000 100",
            }
            return OpportunityData(**{**base, **values})  # type: ignore[arg-type]

        seeds = {
            "homework": data(
                texts=texts(
                    "Doposcuola",
                    en=("Homework club", "Help children with homework.", "Write to us."),
                    ar=("نادي الواجبات", "ساعد الأطفال في واجباتهم.", "راسلنا."),
                ),
                schedule=Schedule.WEEKLY, weekdays=(1, 3), start_time="15:00",
                skills=("teaching", "childcare"), languages=("it", "ar"), capacity=2,
            ),
            "tandem": data(
                texts=texts("Tandem linguistico"), category="language",
                schedule=Schedule.WEEKLY, weekdays=(2,), start_time="18:30",
                area_id=city.areas["Oltre Savio"], languages=("it", "uk", "en"),
                skills=("languages",),
            ),
            "cleanup": data(
                texts=texts("Pulizia del fiume", en=("River clean-up", "Clean the river.", "")),
                category="environment", schedule=Schedule.ONCE,
                starts_at=weekend_morning(), area_id=city.areas["Vigne"],
                skills=("gardening",), languages=("it", "en"),
                organisation_id=city.organisations["ponte"],
            ),
            "dinner": data(
                texts=texts("Cena multietnica"), category="food", schedule=Schedule.ONCE,
                starts_at=next_weekday(2, 18), skills=("cooking",), languages=("it", "tr"),
                organisation_id=city.organisations["ponte"],
            ),
            "library": data(
                texts=texts("Biblioteca dei ragazzi"), schedule=Schedule.FLEXIBLE,
                skills=("teaching",), languages=("it",),
            ),
            "past": data(
                texts=texts("Festa passata"), category="events", schedule=Schedule.ONCE,
                starts_at=utcnow() - timedelta(days=2),
            ),
        }  # fmt: skip
        for name, seed in seeds.items():
            city.opportunities[name], _ = await repository.save(
                seed, status=OpportunityStatus.PUBLISHED
            )
        await session.commit()
    return city


async def make_coordinator(conversation: Conversation, user_id: str, organisation_id: int) -> None:
    """Give an onboarded user the coordinator role for an organisation."""
    async with conversation.sessionmaker() as session:
        users = UserRepository(session)
        user = await users.find("telegram", user_id)
        assert user is not None, "onboard the person first"
        await users.grant_role(user, "coordinator")
        user.organisation_id = organisation_id
        await session.commit()


async def user_row(conversation: Conversation, user_id: str) -> User:
    """A user's row, fresh from the database."""
    async with conversation.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.channel_user_id == user_id))
        assert user is not None
        return user
