"""An approved suggestion becomes a published opportunity of the community organisation."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Area, OpportunityStatus, Organisation, Schedule
from storage.opportunities import OpportunityData, OpportunityRepository

COMMUNITY_EXTERNAL_ID = "community-tips"
COMMUNITY_NAME = "Passaparola"  # the product name reads the same on a card in any language


async def community_organisation(opportunities: OpportunityRepository) -> int:
    """The organisation peer suggestions are published under, created the first time."""
    existing = await opportunities.organisation_id(COMMUNITY_EXTERNAL_ID)
    if existing is not None:
        return existing
    return await opportunities.ensure_organisation(
        COMMUNITY_EXTERNAL_ID, COMMUNITY_NAME, await city_of(opportunities.session)
    )


async def city_of(session: AsyncSession) -> str:
    """The city the bot serves, as the content names it (its first organisation or area)."""
    for column, key in ((Organisation.city, Organisation.id), (Area.city, Area.id)):
        city = await session.scalar(select(column).where(column != "").order_by(key).limit(1))
        if city:
            return city
    return ""


def description_of(fields: Mapping[str, str]) -> str:
    """What happens, then when (the card's schedule says 'flexible': the words say when)."""
    return f"{fields['what']}\n\n🕒 {fields['timing']}"


async def publish(
    opportunities: OpportunityRepository,
    fields: Mapping[str, str],
    locale: str,
    category: str,
    moderator_id: int,
) -> int:
    """Publish the suggestion in its own language and tell the category's followers; the id."""
    organisation_id = await community_organisation(opportunities)
    data = OpportunityData(
        organisation_id=organisation_id,
        category=category,
        source_locale=locale,
        city=await opportunities.organisation_city(organisation_id),
        texts={locale: (fields["title"], description_of(fields), "")},
        schedule=Schedule.FLEXIBLE,
        address=fields["place"],
        contact=fields["contact"],
    )
    opportunity_id, newly_published = await opportunities.save(
        data, status=OpportunityStatus.PUBLISHED, created_by=moderator_id
    )
    if newly_published:
        await opportunities.notify_followers(opportunity_id)
    return opportunity_id
