"""Services and emergency numbers: reads and writes inside the caller's session."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import EmergencyNumber, Service
from storage.search import SearchIndex


class ServiceRepository:
    """Local services by category, and the emergency numbers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def category_counts(self) -> dict[str, int]:
        """How many services each category has."""
        rows = await self.session.execute(
            select(Service.category, func.count()).group_by(Service.category)
        )
        return {category: count for category, count in rows.all()}

    async def in_category(self, category: str) -> list[Service]:
        """The services of one category, by id."""
        return list(
            await self.session.scalars(
                select(Service).where(Service.category == category).order_by(Service.id)
            )
        )

    async def get(self, service_id: int) -> Service | None:
        """One service."""
        return await self.session.get(Service, service_id)

    async def by_external_ids(self, external_ids: list[str]) -> list[Service]:
        """Services named by their content-pack ids, in that order."""
        rows = {
            row.external_id: row
            for row in await self.session.scalars(
                select(Service).where(Service.external_id.in_(external_ids))
            )
        }
        return [rows[key] for key in external_ids if key in rows]

    async def emergency_numbers(self) -> list[EmergencyNumber]:
        """Every emergency number, most important first."""
        return list(
            await self.session.scalars(select(EmergencyNumber).order_by(EmergencyNumber.position))
        )

    async def save_service(
        self,
        external_id: str,
        category: str,
        source_locale: str,
        texts: dict[str, dict[str, str]],
        **details: object,
    ) -> int:
        """Create or update a service by its content-pack id, and index its names."""
        service = await self.session.scalar(
            select(Service).where(Service.external_id == external_id)
        )
        if service is None:
            service = Service(external_id=external_id)
            self.session.add(service)
        service.category, service.source_locale, service.texts = category, source_locale, texts
        for name, value in details.items():
            setattr(service, name, value)
        await self.session.flush()
        await SearchIndex(self.session).replace(
            "service",
            service.id,
            {
                locale: f"{text['name']}\n{text.get('description', '')}"
                for locale, text in texts.items()
            },
        )
        return service.id

    async def save_emergency(
        self, external_id: str, number: str, names: dict[str, str], position: int
    ) -> None:
        """Create or update an emergency number."""
        row = await self.session.scalar(
            select(EmergencyNumber).where(EmergencyNumber.external_id == external_id)
        )
        if row is None:
            row = EmergencyNumber(external_id=external_id)
            self.session.add(row)
        row.number, row.names, row.position = number, names, position
        await self.session.flush()
