"""Stored flows: a user's open multi-step conversation, kept in the database (never in memory)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Flow, utcnow


class FlowRepository:
    """Reads and writes the one open flow a user may have, inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, user_id: int) -> Flow | None:
        """The user's open flow, if any."""
        return await self.session.get(Flow, user_id)

    async def start(self, user_id: int, name: str, step: str, data: dict[str, object]) -> Flow:
        """Open a flow, replacing whatever flow was open."""
        flow = await self.current(user_id)
        if flow is None:
            flow = Flow(user_id=user_id, name=name, step=step, data=data)
            self.session.add(flow)
        flow.name, flow.step, flow.data, flow.updated_at = name, step, data, utcnow()
        await self.session.flush()
        return flow

    async def advance(self, flow: Flow, step: str, **changes: object) -> None:
        """Move to `step`, merging `changes` into the flow's data."""
        flow.step = step
        flow.data = {**flow.data, **changes}
        flow.updated_at = utcnow()

    async def end(self, user_id: int, name: str | None = None) -> None:
        """Close the user's flow (only if it is `name`, when given)."""
        query = delete(Flow).where(Flow.user_id == user_id)
        if name is not None:
            query = query.where(Flow.name == name)
        await self.session.execute(query)
