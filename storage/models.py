"""SQLAlchemy 2.0 models. Rows hold no phone numbers and no message texts."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names, so migrations diff cleanly."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(kind: type[enum.StrEnum]) -> Enum:
    """Store an enum as its lower-case value in a plain string column (portable, readable)."""
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class UserStatus(enum.StrEnum):
    """Whether we may write to a contact: active, stopped (blocked us), blocked (by admins)."""

    ACTIVE = "active"
    STOPPED = "stopped"
    BLOCKED = "blocked"


class User(Base):
    """A person who talks to the bot on one channel."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[UserStatus] = mapped_column(_enum(UserStatus), default=UserStatus.ACTIVE)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    consented_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )  # the organisation a coordinator posts for
    muted: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )  # no staff announcements (broadcasts); reminders still arrive
    referral_code: Mapped[str | None] = mapped_column(
        String(16), unique=True
    )  # random, made on first share; the link carries it, never the account id
    public_name: Mapped[str | None] = mapped_column(
        String(64)
    )  # the name the person chose to be thanked by in staff's reach figures; None = pseudonym


class UserSkill(Base):
    """A skill the user offers (Settings → my skills); codes from handlers.vocabulary.SKILLS."""

    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(32), primary_key=True)


class UserArea(Base):
    """An area where the user can go (Settings → my areas)."""

    __tablename__ = "user_areas"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )


class Organisation(Base):
    """An association, NGO or city office that runs opportunities."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(200), default="")


class Area(Base):
    """A neighbourhood or district of a city."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("city", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))


class OpportunityStatus(enum.StrEnum):
    """draft → pending (awaiting moderation) → published → expired or archived."""

    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    EXPIRED = "expired"
    ARCHIVED = "archived"


class Schedule(enum.StrEnum):
    """When an opportunity happens: once (starts_at), weekly (weekdays + time), or flexible."""

    ONCE = "once"
    WEEKLY = "weekly"
    FLEXIBLE = "flexible"


class Opportunity(Base):
    """A volunteering opportunity. Its texts live in opportunity_texts, one row per locale."""

    __tablename__ = "opportunities"
    __table_args__ = (Index("ix_opportunities_status_category", "status", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(32))
    source_locale: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(100))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(300), default="")
    schedule: Mapped[Schedule] = mapped_column(_enum(Schedule), default=Schedule.FLEXIBLE)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # once
    weekdays: Mapped[str] = mapped_column(String(16), default="")  # weekly: "0,3" = Mon, Thu
    start_time: Mapped[str] = mapped_column(String(5), default="")  # weekly: "18:30", city time
    min_age: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[OpportunityStatus] = mapped_column(
        _enum(OpportunityStatus), default=OpportunityStatus.DRAFT
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OpportunityText(Base):
    """An opportunity's title and description in one locale (the source, or a translation)."""

    __tablename__ = "opportunity_texts"

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    how_to_join: Mapped[str] = mapped_column(Text, default="")


class OpportunitySkill(Base):
    """A skill an opportunity needs."""

    __tablename__ = "opportunity_skills"

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(32), primary_key=True)


class OpportunityLanguage(Base):
    """A language spoken at the activity (a locale code)."""

    __tablename__ = "opportunity_languages"

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)


class Signup(Base):
    """A user's "I'm interested" in an opportunity, with what they agreed to pass on."""

    __tablename__ = "signups"
    __table_args__ = (UniqueConstraint("opportunity_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))  # shared with the organisation, by consent
    contact: Mapped[str] = mapped_column(String(100))  # @username or a tg:// link, by consent
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Follow(Base):
    """A subscription: new opportunities in a category (and area, if set) reach the user."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("user_id", "category", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))


class Flow(Base):
    """A user's open multi-step flow (posting an opportunity, composing a broadcast, ...)."""

    __tablename__ = "flows"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeliveryStatus(enum.StrEnum):
    """A queued message's fate: queued → sent, failed (gave up), blocked (user blocked us)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


class Delivery(Base):
    """One message for one user, sent by the delivery worker: notifications, reminders, broadcasts.

    `kind` and `payload` say what to render; rendering happens at send time, in the recipient's
    language. `dedupe_key` makes enqueueing idempotent (a follower gets a card exactly once).
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Service(Base):
    """A local service (registry office, clinic, legal desk, shelter...); texts per locale."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    source_locale: Mapped[str] = mapped_column(String(16))
    texts: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(300), default="")
    hours: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    phone: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    free: Mapped[bool] = mapped_column(default=False)


class EmergencyNumber(Base):
    """A number to call in an emergency, shown first whenever someone asks for help."""

    __tablename__ = "emergency_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(40))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)


class FaqEntry(Base):
    """A frequently asked question and its answer, per locale (from a content pack or promoted)."""

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    source_locale: Mapped[str] = mapped_column(String(16))
    service_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    promoted_from: Mapped[int | None] = mapped_column(Integer)  # a helper answer an admin promoted
    helpful: Mapped[int] = mapped_column(Integer, default=0)  # anonymous "Was this helpful?" totals
    unhelpful: Mapped[int] = mapped_column(Integer, default=0)


class FaqText(Base):
    """An FAQ entry's question, other phrasings and answer in one locale."""

    __tablename__ = "faq_texts"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    phrasings: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)


class QuestionStatus(enum.StrEnum):
    """A question handed to volunteers: waiting → claimed → answered → rated (or closed)."""

    WAITING = "waiting"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    RATED = "rated"
    CLOSED = "closed"


class HelperQuestion(Base):
    """A question the bot could not answer, relayed to a helper who speaks its language.

    Neither side learns the other's identity: the bot relays both ways. The texts are kept only
    until the answer is rated, or 30 days at most.
    """

    __tablename__ = "helper_questions"
    __table_args__ = (Index("ix_helper_questions_status_locale", "status", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[QuestionStatus] = mapped_column(
        _enum(QuestionStatus), default=QuestionStatus.WAITING
    )
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer)  # 1 helpful, 0 not
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who did what, and when: one row per staff action (a broadcast, a role change, ...)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "broadcast.send"
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BroadcastStatus(enum.StrEnum):
    """draft → scheduled → sending ⇄ paused → done, or cancelled at any point before done."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class Broadcast(Base):
    """A staff announcement to a segment of users, one version per locale: a durable job.

    Its deliveries are queued in batches ("fan-out") with dedupe keys `bc<id>:<user id>`;
    `fanout_cursor` is the last user id queued, so an interrupted fan-out resumes where it was.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status_scheduled_at", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # locale -> text
    source_locale: Mapped[str] = mapped_column(String(16))  # the version written first
    fallback_locale: Mapped[str] = mapped_column(String(16))  # for locales without a version
    photo: Mapped[str | None] = mapped_column(String(256))  # the channel's file id
    audience: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus), default=BroadcastStatus.DRAFT
    )
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # deliveries queued so far
    fanout_cursor: Mapped[int] = mapped_column(Integer, default=0)
    fanout_done: Mapped[bool] = mapped_column(default=False)
    progress_chat_id: Mapped[str | None] = mapped_column(String(64))
    progress_message_id: Mapped[str | None] = mapped_column(String(32))


class RoleInvite(Base):
    """A one-time link an admin makes to give someone a role (and, for coordinators, an org)."""

    __tablename__ = "role_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Referral(Base):
    """Who brought whom: one row per person who arrived through someone's link (first one wins)."""

    __tablename__ = "referrals"

    receiver_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    referrer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(1))  # o opportunity, s service, i invite to the bot
    item_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Share(Base):
    """A card someone posted into a chat through inline mode (anonymous once they are gone)."""

    __tablename__ = "shares"
    __table_args__ = (Index("ix_shares_kind_item_id", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sharer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(1))
    item_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LinkOpen(Base):
    """Someone opened a shared card's link: once per person and card, with the chain's depth.

    `depth` counts the hops from the first sharer: 1 for a friend of the sharer, 2 for a friend
    of that friend, and so on. Rows outlive a /forget as anonymous totals (opener set to NULL).
    """

    __tablename__ = "link_opens"
    __table_args__ = (
        UniqueConstraint("opener_id", "kind", "item_id"),
        Index("ix_link_opens_kind_item_id", "kind", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opener_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    referrer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(1))
    item_id: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer, default=1)
    new_user: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SubmissionStatus(enum.StrEnum):
    """pending → approved (published as an opportunity) or rejected (with a reason)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Submission(Base):
    """An opportunity a peer told us about, waiting for a moderator. Links stay plain text."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_status", "status"),
        Index("ix_submissions_submitter_id_created_at", "submitter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(String(16))  # the language it was written in
    title: Mapped[str] = mapped_column(String(200))
    what: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(300))
    timing: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus), default=SubmissionStatus.PENDING
    )
    reason: Mapped[str | None] = mapped_column(String(32))  # a code from the reasons list
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InstallationSecret(Base):
    """A random secret made once per database, such as the key of staff-facing pseudonyms."""

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
