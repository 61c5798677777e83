"""Everything stored about one person, as a JSON-ready document (GDPR access), and nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Area,
    AuditEntry,
    Delivery,
    Flow,
    Follow,
    HelperQuestion,
    Opportunity,
    OpportunityText,
    Referral,
    Share,
    Signup,
    Submission,
    User,
    UserArea,
    UserSkill,
)
from storage.referrals import ReferralRepository

# Audit details that name someone else (e.g. whom a role was given to): left out of an export.
ABOUT_OTHERS = frozenset({"user"})


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _created_opportunities(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Opportunities the person posted, titled in their source language."""
    rows = list(
        await session.scalars(
            select(Opportunity).where(Opportunity.created_by == user.id).order_by(Opportunity.id)
        )
    )
    titles = dict(
        (
            await session.execute(
                select(OpportunityText.opportunity_id, OpportunityText.title)
                .join(Opportunity, Opportunity.id == OpportunityText.opportunity_id)
                .where(
                    Opportunity.created_by == user.id,
                    OpportunityText.locale == Opportunity.source_locale,
                )
            )
        ).all()
    )
    return [
        {
            "title": titles.get(row.id, ""),
            "category": row.category,
            "status": row.status.value,
            "created": _when(row.created_at),
            "published": _when(row.published_at),
        }
        for row in rows
    ]


async def _sharing(session: AsyncSession, user: User) -> dict[str, Any]:
    """The person's referral code and counts: whom they brought stays a number, never a name."""
    reach = await ReferralRepository(session).my_reach(user.id)
    shares = await session.scalar(
        select(func.count()).select_from(Share).where(Share.sharer_id == user.id)
    )
    arrived_through = await session.get(Referral, user.id)
    return {
        "referral_code": user.referral_code,
        "name_shown_to_staff": user.public_name,
        "cards_shared": shares or 0,
        "people_brought": reach.brought,
        "of_them_signed_up": reach.signed_up,
        "arrived_through_a_friends_link": arrived_through is not None,
    }


async def export_user(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything about the person: profile, settings, sign-ups, follows, questions, suggestions,
    answers given as a helper, opportunities posted, queued messages, audited actions; nobody
    else's."""
    areas = dict((await session.execute(select(Area.id, Area.name))).all())
    signups = list(await session.scalars(select(Signup).where(Signup.user_id == user.id)))
    titles = {
        item: title
        for item, title in (
            await session.execute(
                select(OpportunityText.opportunity_id, OpportunityText.title).where(
                    OpportunityText.opportunity_id.in_([s.opportunity_id for s in signups])
                )
            )
        ).all()
    }
    flow = await session.get(Flow, user.id)
    return {
        "profile": {
            "channel": user.channel,
            "account": user.channel_user_id,
            "language": user.locale,
            "status": user.status.value,
            "roles": list(user.roles),
            "organisation_id": user.organisation_id,
            "announcements_muted": user.muted,
            "agreed_to_privacy_notice": _when(user.consented_at),
            "first_seen": _when(user.first_seen_at),
            "last_seen": _when(user.last_seen_at),
        },
        "skills": sorted(
            await session.scalars(select(UserSkill.skill).where(UserSkill.user_id == user.id))
        ),
        "areas": sorted(
            areas[area_id]
            for area_id in await session.scalars(
                select(UserArea.area_id).where(UserArea.user_id == user.id)
            )
        ),
        "follows": [
            {
                "category": follow.category,
                "area": areas.get(follow.area_id) if follow.area_id else None,
            }
            for follow in await session.scalars(select(Follow).where(Follow.user_id == user.id))
        ],
        "sign_ups": [
            {
                "opportunity": titles.get(signup.opportunity_id, ""),
                "shared_first_name": signup.first_name,
                "shared_contact": signup.contact,
                "signed_up": _when(signup.created_at),
                "withdrawn": _when(signup.withdrawn_at),
            }
            for signup in signups
        ],
        "questions_to_volunteers": [
            {
                "question": item.question,
                "answer": item.answer,
                "status": item.status.value,
                "asked": _when(item.created_at),
            }
            for item in await session.scalars(
                select(HelperQuestion).where(HelperQuestion.asker_id == user.id)
            )
        ],
        "suggested_opportunities": [
            {
                "title": item.title,
                "what": item.what,
                "where": item.place,
                "when": item.timing,
                "contact": item.contact,
                "language": item.locale,
                "status": item.status.value,
                "reason": item.reason,
                "sent": _when(item.created_at),
                "decided": _when(item.decided_at),
            }
            for item in await session.scalars(
                select(Submission).where(Submission.submitter_id == user.id).order_by(Submission.id)
            )
        ],
        "answers_written_as_helper": [
            {  # the question is the asker's, not the helper's: only the answer is exported
                "answer": item.answer,
                "language": item.locale,
                "status": item.status.value,
                "answered": _when(item.answered_at),
            }
            for item in await session.scalars(
                select(HelperQuestion)
                .where(HelperQuestion.helper_id == user.id, HelperQuestion.answer != "")
                .order_by(HelperQuestion.id)
            )
        ],
        "opportunities_created": await _created_opportunities(session, user),
        "sharing": await _sharing(session, user),
        "messages_sent_or_queued": [
            {"kind": kind, "status": status.value}
            for kind, status in await session.execute(
                select(Delivery.kind, Delivery.status)
                .where(Delivery.user_id == user.id)
                .order_by(Delivery.id)
            )
        ],
        "audited_actions": [
            {
                "action": entry.action,
                "details": {k: v for k, v in entry.details.items() if k not in ABOUT_OTHERS},
                "when": _when(entry.created_at),
            }
            for entry in await session.scalars(
                select(AuditEntry).where(AuditEntry.actor_id == user.id).order_by(AuditEntry.id)
            )
        ],
        "open_conversation_step": flow.name if flow else None,
    }
