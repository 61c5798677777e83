"""Opportunities repository: browsing, filters, cards, sign-ups, follows. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.deliveries import DeliveryRepository
from storage.models import (
    Area,
    Follow,
    Opportunity,
    OpportunityLanguage,
    OpportunitySkill,
    OpportunityStatus,
    OpportunityText,
    Organisation,
    Schedule,
    Signup,
    User,
    UserArea,
    UserSkill,
    utcnow,
)
from storage.search import SearchIndex

EVENING_FROM = "17:00"
WHEN_FILTERS = ("week", "weekend", "evening")


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every datetime we store is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    """What the newcomer narrowed the list to; every field is optional and they combine."""

    area_id: int | None = None
    my_language: bool = False
    skill: str | None = None
    when: str | None = None  # one of WHEN_FILTERS

    @property
    def active(self) -> bool:
        """True when at least one filter is on."""
        return bool(self.area_id or self.my_language or self.skill or self.when)


@dataclass(frozen=True)
class OpportunityCard:
    """Everything a card shows, as plain values (no ORM rows past the session)."""

    id: int
    organisation_id: int
    organisation: str
    category: str
    area_id: int | None
    source_locale: str
    texts: dict[str, tuple[str, str, str]]  # locale -> (title, description, how_to_join)
    area: str
    address: str
    schedule: Schedule
    starts_at: datetime | None
    weekdays: tuple[int, ...]
    start_time: str
    min_age: int
    capacity: int | None
    contact: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    status: OpportunityStatus
    signups: int = 0

    def text(self, locale: str) -> tuple[str, tuple[str, str, str]]:
        """The texts in `locale` if translated, else in the source language: (locale, texts)."""
        if locale in self.texts:
            return locale, self.texts[locale]
        if self.source_locale in self.texts:
            return self.source_locale, self.texts[self.source_locale]
        first = next(iter(sorted(self.texts)))
        return first, self.texts[first]

    @property
    def full(self) -> bool:
        """No places left."""
        return self.capacity is not None and self.signups >= self.capacity


@dataclass(frozen=True)
class ListEntry:
    """One line of a list: the id and its title in the reader's language."""

    id: int
    title: str
    category: str


@dataclass
class Page:
    """A page of a list, with whether there are pages before and after."""

    entries: list[ListEntry]
    page: int
    pages: int
    total: int
    extra: dict[str, object] = field(default_factory=dict)


def matches_when(row: Opportunity, when: str | None, now: datetime, zone: ZoneInfo) -> bool:
    """Does the opportunity happen in the chosen time window? Flexible ones always fit."""
    if when is None or row.schedule is Schedule.FLEXIBLE:
        return True
    local_now = now.astimezone(zone)
    week_end = (local_now + timedelta(days=6 - local_now.weekday())).replace(
        hour=23, minute=59, second=59
    )
    if row.schedule is Schedule.WEEKLY:
        days = {int(day) for day in row.weekdays.split(",") if day}
        if when == "week":
            return bool(days)
        if when == "weekend":
            return bool(days & {5, 6})
        return row.start_time >= EVENING_FROM
    starts = aware(row.starts_at)
    if starts is None:
        return False
    local = starts.astimezone(zone)
    if when == "week":
        return now <= starts <= week_end
    if when == "weekend":
        return local.weekday() in (5, 6) and starts - now <= timedelta(days=7)
    return f"{local:%H:%M}" >= EVENING_FROM


class OpportunityRepository:
    """Reads and writes opportunities inside the caller's session."""

    def __init__(self, session: AsyncSession, zone: ZoneInfo | None = None) -> None:
        self.session = session
        self.zone = zone or ZoneInfo("Europe/Rome")

    # --- what is open -----------------------------------------------------------------

    def _open(self, now: datetime) -> object:
        """Published, and not a one-off that already happened."""
        return and_(
            Opportunity.status == OpportunityStatus.PUBLISHED,
            or_(Opportunity.schedule != Schedule.ONCE, Opportunity.starts_at >= now),
        )

    async def category_counts(self) -> dict[str, int]:
        """How many open opportunities each category has."""
        rows = await self.session.execute(
            select(Opportunity.category, func.count())
            .where(self._open(utcnow()))
            .group_by(Opportunity.category)
        )
        return {category: count for category, count in rows.all()}

    async def newest(self, limit: int) -> list[int]:
        """The ids of the most recently added open opportunities."""
        rows = await self.session.scalars(
            select(Opportunity.id)
            .where(self._open(utcnow()))
            .order_by(Opportunity.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def areas(self) -> list[tuple[int, str]]:
        """Every area, by name."""
        rows = await self.session.execute(select(Area.id, Area.name).order_by(Area.name))
        return [(area_id, name) for area_id, name in rows.all()]

    async def area_name(self, area_id: int) -> str | None:
        """An area's name, or None if there is no such area."""
        return await self.session.scalar(select(Area.name).where(Area.id == area_id))

    async def browse(
        self,
        category: str | None,
        filters: Filters,
        locale: str,
        page: int,
        *,
        ids: Sequence[int] | None = None,
        per_page: int = 5,
    ) -> Page:
        """Open opportunities in a category (or among `ids`, in that order) matching `filters`."""
        now = utcnow()
        query = select(Opportunity).where(self._open(now))
        if category is not None:
            query = query.where(Opportunity.category == category)
        if ids is not None:
            query = query.where(Opportunity.id.in_(ids))
        if filters.area_id is not None:
            query = query.where(Opportunity.area_id == filters.area_id)
        if filters.my_language:
            query = query.where(
                exists().where(
                    OpportunityLanguage.opportunity_id == Opportunity.id,
                    OpportunityLanguage.locale == locale,
                )
            )
        if filters.skill is not None:
            query = query.where(
                exists().where(
                    OpportunitySkill.opportunity_id == Opportunity.id,
                    OpportunitySkill.skill == filters.skill,
                )
            )
        rows = [
            row
            for row in await self.session.scalars(query.order_by(Opportunity.id))
            if matches_when(row, filters.when, now, self.zone)
        ]
        if ids is not None:
            order = {item_id: index for index, item_id in enumerate(ids)}
            rows.sort(key=lambda row: order[row.id])
        else:
            rows.sort(key=lambda row: (aware(row.starts_at) or now + timedelta(days=3650), row.id))
        return await self._page([row.id for row in rows], locale, page, per_page)

    async def _page(self, ids: list[int], locale: str, page: int, per_page: int) -> Page:
        pages = max(1, -(-len(ids) // per_page))
        page = min(max(page, 0), pages - 1)
        shown = ids[page * per_page : (page + 1) * per_page]
        titles = await self.titles(shown, locale)
        categories = dict(
            (await self.session.execute(
                select(Opportunity.id, Opportunity.category).where(Opportunity.id.in_(shown))
            )).all()
        )  # fmt: skip
        entries = [ListEntry(item, titles[item], categories[item]) for item in shown]
        return Page(entries, page, pages, len(ids))

    async def titles(self, ids: Iterable[int], locale: str) -> dict[int, str]:
        """Each opportunity's title in `locale`, else in its source language."""
        ids = list(ids)
        rows = await self.session.execute(
            select(OpportunityText.opportunity_id, OpportunityText.locale, OpportunityText.title)
            .join(Opportunity, Opportunity.id == OpportunityText.opportunity_id)
            .where(
                OpportunityText.opportunity_id.in_(ids),
                or_(
                    OpportunityText.locale == locale,
                    OpportunityText.locale == Opportunity.source_locale,
                ),
            )
        )
        titles: dict[int, str] = {}
        for item, text_locale, title in rows.all():
            if text_locale == locale or item not in titles:
                titles[item] = title
        return titles

    # --- one card ------------------------------------------------------------------------

    async def card(self, opportunity_id: int) -> OpportunityCard | None:
        """The full card of one opportunity, whatever its status; None if it does not exist."""
        row = await self.session.get(Opportunity, opportunity_id)
        if row is None:
            return None
        organisation = await self.session.get(Organisation, row.organisation_id)
        area = await self.area_name(row.area_id) if row.area_id is not None else None
        texts = {
            text.locale: (text.title, text.description, text.how_to_join)
            for text in await self.session.scalars(
                select(OpportunityText).where(OpportunityText.opportunity_id == row.id)
            )
        }
        skills = await self.session.scalars(
            select(OpportunitySkill.skill).where(OpportunitySkill.opportunity_id == row.id)
        )
        languages = await self.session.scalars(
            select(OpportunityLanguage.locale).where(OpportunityLanguage.opportunity_id == row.id)
        )
        return OpportunityCard(
            id=row.id,
            organisation_id=row.organisation_id,
            organisation=organisation.name if organisation else "",
            category=row.category,
            area_id=row.area_id,
            source_locale=row.source_locale,
            texts=texts,
            area=area or "",
            address=row.address,
            schedule=row.schedule,
            starts_at=aware(row.starts_at),
            weekdays=tuple(int(day) for day in row.weekdays.split(",") if day),
            start_time=row.start_time,
            min_age=row.min_age,
            capacity=row.capacity,
            contact=row.contact,
            skills=tuple(sorted(skills)),
            languages=tuple(sorted(languages)),
            status=row.status,
            signups=await self.signup_count(row.id),
        )

    async def is_open(self, opportunity_id: int) -> bool:
        """True when people can still see and join the opportunity."""
        found = await self.session.scalar(
            select(Opportunity.id).where(Opportunity.id == opportunity_id, self._open(utcnow()))
        )
        return found is not None

    # --- sign-ups ------------------------------------------------------------------------

    async def signup_count(self, opportunity_id: int) -> int:
        """Active sign-ups for an opportunity."""
        count = await self.session.scalar(
            select(func.count()).where(
                Signup.opportunity_id == opportunity_id, Signup.withdrawn_at.is_(None)
            )
        )
        return count or 0

    async def signup_of(self, opportunity_id: int, user_id: int) -> Signup | None:
        """The user's sign-up row for an opportunity (active or withdrawn), if any."""
        return await self.session.scalar(
            select(Signup).where(Signup.opportunity_id == opportunity_id, Signup.user_id == user_id)
        )

    async def sign_up(
        self, opportunity_id: int, user_id: int, first_name: str, contact: str
    ) -> Signup:
        """Record (or renew) the user's sign-up, with the details they agreed to pass on."""
        signup = await self.signup_of(opportunity_id, user_id)
        if signup is None:
            signup = Signup(
                opportunity_id=opportunity_id,
                user_id=user_id,
                first_name=first_name,
                contact=contact,
            )
            self.session.add(signup)
        else:
            signup.first_name, signup.contact = first_name, contact
            signup.withdrawn_at = None
            signup.created_at = utcnow()
        await self.session.flush()
        return signup

    async def withdraw(self, signup: Signup) -> None:
        """The user is no longer coming."""
        signup.withdrawn_at = utcnow()

    async def signups(self, opportunity_id: int) -> list[Signup]:
        """Active sign-ups, oldest first."""
        return list(
            await self.session.scalars(
                select(Signup)
                .where(Signup.opportunity_id == opportunity_id, Signup.withdrawn_at.is_(None))
                .order_by(Signup.created_at)
            )
        )

    async def my_signups(self, user_id: int, locale: str) -> list[ListEntry]:
        """The user's active sign-ups, with titles in their language."""
        ids = list(
            await self.session.scalars(
                select(Signup.opportunity_id)
                .where(Signup.user_id == user_id, Signup.withdrawn_at.is_(None))
                .order_by(Signup.created_at)
            )
        )
        titles = await self.titles(ids, locale)
        categories = dict(
            (await self.session.execute(
                select(Opportunity.id, Opportunity.category).where(Opportunity.id.in_(ids))
            )).all()
        )  # fmt: skip
        return [ListEntry(item, titles[item], categories[item]) for item in ids]

    async def coordinators(self, organisation_id: int) -> list[int]:
        """Ids of the organisation's coordinators (who are told about sign-ups)."""
        users = await self.session.scalars(
            select(User).where(User.organisation_id == organisation_id).order_by(User.id)
        )
        return [user.id for user in users if "coordinator" in user.roles]

    # --- follows -------------------------------------------------------------------------

    async def follow(self, user_id: int, category: str, area_id: int | None) -> bool:
        """Follow a category (in an area, if given); False if already followed."""
        if await self._follow_row(user_id, category, area_id) is not None:
            return False
        self.session.add(Follow(user_id=user_id, category=category, area_id=area_id))
        await self.session.flush()
        return True

    async def unfollow(self, user_id: int, category: str, area_id: int | None) -> None:
        """Stop following."""
        row = await self._follow_row(user_id, category, area_id)
        if row is not None:
            await self.session.delete(row)

    async def follows(self, user_id: int, category: str, area_id: int | None) -> bool:
        """Is the user following this category (and area)?"""
        return await self._follow_row(user_id, category, area_id) is not None

    async def _follow_row(self, user_id: int, category: str, area_id: int | None) -> Follow | None:
        area_matches = Follow.area_id.is_(None) if area_id is None else Follow.area_id == area_id
        return await self.session.scalar(
            select(Follow).where(
                Follow.user_id == user_id, Follow.category == category, area_matches
            )
        )

    async def followers(self, opportunity_id: int) -> list[int]:
        """Ids of active, consenting users following the opportunity's category (or its area)."""
        row = await self.session.get(Opportunity, opportunity_id)
        if row is None:
            return []
        area_matches = Follow.area_id.is_(None)
        if row.area_id is not None:
            area_matches = or_(area_matches, Follow.area_id == row.area_id)
        return list(
            await self.session.scalars(
                select(Follow.user_id)
                .distinct()
                .join(User, User.id == Follow.user_id)
                .where(
                    Follow.category == row.category,
                    area_matches,
                    User.consented_at.is_not(None),
                )
                .order_by(Follow.user_id)
            )
        )

    async def notify_followers(self, opportunity_id: int) -> int:
        """Queue the card for every follower, exactly once each; returns how many were queued."""
        deliveries = DeliveryRepository(self.session)
        payload = {"opportunity_id": opportunity_id, "zone": self.zone.key}
        queued = 0
        for user_id in await self.followers(opportunity_id):
            key = f"opportunity:{opportunity_id}:{user_id}"
            queued += await deliveries.enqueue(user_id, "opportunity", payload, dedupe_key=key)
        return queued

    # --- the user's profile: skills and areas -------------------------------------------

    async def user_skills(self, user_id: int) -> set[str]:
        """The skills the user offers."""
        return set(
            await self.session.scalars(select(UserSkill.skill).where(UserSkill.user_id == user_id))
        )

    async def toggle_skill(self, user_id: int, skill: str) -> bool:
        """Add the skill, or remove it if present; True when it is now on."""
        if skill in await self.user_skills(user_id):
            await self.session.execute(
                delete(UserSkill).where(UserSkill.user_id == user_id, UserSkill.skill == skill)
            )
            return False
        self.session.add(UserSkill(user_id=user_id, skill=skill))
        await self.session.flush()
        return True

    async def user_areas(self, user_id: int) -> set[int]:
        """The areas the user can get to."""
        return set(
            await self.session.scalars(select(UserArea.area_id).where(UserArea.user_id == user_id))
        )

    async def toggle_area(self, user_id: int, area_id: int) -> bool:
        """Add the area, or remove it if present; True when it is now on."""
        if area_id in await self.user_areas(user_id):
            await self.session.execute(
                delete(UserArea).where(UserArea.user_id == user_id, UserArea.area_id == area_id)
            )
            return False
        self.session.add(UserArea(user_id=user_id, area_id=area_id))
        await self.session.flush()
        return True

    async def for_me(self, user_id: int, locale: str, page: int, per_page: int = 5) -> Page:
        """Open opportunities ranked by how well they fit the user's skills, areas and language."""
        skills = await self.user_skills(user_id)
        areas = await self.user_areas(user_id)
        now = utcnow()
        rows = list(await self.session.scalars(select(Opportunity).where(self._open(now))))
        needs: dict[int, set[str]] = {}
        for item, skill in (
            await self.session.execute(
                select(OpportunitySkill.opportunity_id, OpportunitySkill.skill)
            )
        ).all():
            needs.setdefault(item, set()).add(skill)
        speaks = set(
            await self.session.scalars(
                select(OpportunityLanguage.opportunity_id).where(
                    OpportunityLanguage.locale == locale
                )
            )
        )

        def score(row: Opportunity) -> int:
            return (
                2 * len(skills & needs.get(row.id, set()))
                + (2 if row.area_id in areas else 0)
                + (1 if row.id in speaks else 0)
            )

        ranked = sorted(
            (row for row in rows if score(row) > 0), key=lambda row: (-score(row), row.id)
        )
        result = await self._page([row.id for row in ranked], locale, page, per_page)
        result.extra["has_profile"] = bool(skills or areas)
        return result

    # --- lifecycle -----------------------------------------------------------------------

    async def expire_past(self) -> int:
        """One-off opportunities whose date has passed become expired; returns how many."""
        result = await self.session.execute(
            update(Opportunity)
            .where(
                Opportunity.status == OpportunityStatus.PUBLISHED,
                Opportunity.schedule == Schedule.ONCE,
                Opportunity.starts_at < utcnow(),
            )
            .values(status=OpportunityStatus.EXPIRED)
        )
        return result.rowcount or 0

    async def set_status(self, opportunity_id: int, status: OpportunityStatus) -> None:
        """Publish, close (archive) or otherwise move an opportunity."""
        row = await self.session.get(Opportunity, opportunity_id)
        if row is not None:
            row.status = status
            if status is OpportunityStatus.PUBLISHED and row.published_at is None:
                row.published_at = utcnow()

    async def of_organisation(
        self, organisation_id: int, locale: str
    ) -> list[tuple[ListEntry, OpportunityStatus]]:
        """An organisation's published and recent opportunities, newest first."""
        rows = list(
            await self.session.scalars(
                select(Opportunity)
                .where(
                    Opportunity.organisation_id == organisation_id,
                    Opportunity.status.in_(
                        [
                            OpportunityStatus.PUBLISHED,
                            OpportunityStatus.PENDING,
                            OpportunityStatus.DRAFT,
                        ]
                    ),
                )
                .order_by(Opportunity.id.desc())
            )
        )
        titles = await self.titles([row.id for row in rows], locale)
        return [
            (ListEntry(row.id, titles.get(row.id, "?"), row.category), row.status) for row in rows
        ]

    # --- writing -------------------------------------------------------------------------

    async def ensure_area(self, city: str, name: str) -> int:
        """The id of the area with this name, created if new."""
        area_id = await self.session.scalar(
            select(Area.id).where(Area.city == city, Area.name == name)
        )
        if area_id is None:
            area = Area(city=city, name=name)
            self.session.add(area)
            await self.session.flush()
            area_id = area.id
        return area_id

    async def ensure_organisation(
        self, external_id: str, name: str, city: str, contact: str = ""
    ) -> int:
        """The id of the organisation with this external id, created or updated."""
        organisation = await self.session.scalar(
            select(Organisation).where(Organisation.external_id == external_id)
        )
        if organisation is None:
            organisation = Organisation(external_id=external_id, name=name, city=city)
            self.session.add(organisation)
        organisation.name, organisation.city, organisation.contact = name, city, contact
        await self.session.flush()
        return organisation.id

    async def organisation_id(self, external_id: str) -> int | None:
        """The id of the organisation with this external id."""
        return await self.session.scalar(
            select(Organisation.id).where(Organisation.external_id == external_id)
        )

    async def organisation_name(self, organisation_id: int) -> str:
        """An organisation's name."""
        return (
            await self.session.scalar(
                select(Organisation.name).where(Organisation.id == organisation_id)
            )
            or ""
        )

    async def organisation_city(self, organisation_id: int) -> str:
        """The city an organisation works in."""
        return (
            await self.session.scalar(
                select(Organisation.city).where(Organisation.id == organisation_id)
            )
            or ""
        )

    async def by_external_id(self, external_id: str) -> int | None:
        """The id of the opportunity imported with this external id."""
        return await self.session.scalar(
            select(Opportunity.id).where(Opportunity.external_id == external_id)
        )

    async def save(
        self,
        data: OpportunityData,
        *,
        opportunity_id: int | None = None,
        status: OpportunityStatus | None = None,
        created_by: int | None = None,
    ) -> tuple[int, bool]:
        """Create or update an opportunity with its texts, skills and languages.

        Returns the id and whether it became published by this call (followers are then told).
        """
        row = await self.session.get(Opportunity, opportunity_id) if opportunity_id else None
        if row is None:
            row = Opportunity(created_by=created_by, status=OpportunityStatus.DRAFT)
            self.session.add(row)
        was_published = row.status is OpportunityStatus.PUBLISHED
        if data.external_id is not None:
            row.external_id = data.external_id
        row.organisation_id = data.organisation_id
        row.category = data.category
        row.source_locale = data.source_locale
        row.city = data.city
        row.area_id = data.area_id
        row.address = data.address
        row.schedule = data.schedule
        row.starts_at = data.starts_at
        row.weekdays = ",".join(str(day) for day in data.weekdays)
        row.start_time = data.start_time
        row.min_age = data.min_age
        row.capacity = data.capacity
        row.contact = data.contact
        await self.session.flush()
        for table in (OpportunityText, OpportunitySkill, OpportunityLanguage):
            await self.session.execute(delete(table).where(table.opportunity_id == row.id))
        for locale, (title, description, how_to_join) in data.texts.items():
            self.session.add(
                OpportunityText(
                    opportunity_id=row.id,
                    locale=locale,
                    title=title,
                    description=description,
                    how_to_join=how_to_join,
                )
            )
        self.session.add_all(OpportunitySkill(opportunity_id=row.id, skill=s) for s in data.skills)
        self.session.add_all(
            OpportunityLanguage(opportunity_id=row.id, locale=code) for code in data.languages
        )
        if status is not None:
            await self.set_status(row.id, status)
        await self.session.flush()
        await SearchIndex(self.session).replace(
            "opportunity",
            row.id,
            {
                locale: f"{title}\n{description}"
                for locale, (title, description, _) in data.texts.items()
            },
        )
        return row.id, row.status is OpportunityStatus.PUBLISHED and not was_published


@dataclass
class OpportunityData:
    """An opportunity as entered by a coordinator or read from a content file."""

    organisation_id: int
    category: str
    source_locale: str
    city: str
    texts: dict[str, tuple[str, str, str]]  # locale -> (title, description, how_to_join)
    schedule: Schedule = Schedule.FLEXIBLE
    starts_at: datetime | None = None
    weekdays: tuple[int, ...] = ()
    start_time: str = ""
    area_id: int | None = None
    address: str = ""
    min_age: int = 0
    capacity: int | None = None
    contact: str = ""
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    external_id: str | None = None
