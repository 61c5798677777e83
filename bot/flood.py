"""Per-person flood control on incoming updates, decided in memory before any database work."""

from __future__ import annotations

import enum
from collections import OrderedDict

from aiolimiter import AsyncLimiter


class Verdict(enum.Enum):
    """What to do with one incoming update."""

    ANSWER = "answer"
    WARN = "warn"  # the first update past the limit: tell the person to slow down, once
    DROP = "drop"  # the rest, until they slow down: no reply, no database work


class FloodGuard:
    """At most `max_updates` per `period` seconds per person; others are never affected."""

    def __init__(self, max_updates: int, period: float, max_tracked: int = 10_000) -> None:
        self.max_updates = max_updates
        self.period = period
        self.max_tracked = max_tracked
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._warned: set[str] = set()

    async def admit(self, person: str) -> Verdict:
        """Count one update from `person` and say whether to answer it."""
        if self.max_updates <= 0:
            return Verdict.ANSWER
        limiter = self._limiters.pop(person, None) or AsyncLimiter(self.max_updates, self.period)
        self._limiters[person] = limiter  # most recently seen last
        if len(self._limiters) > self.max_tracked:
            quiet, _ = self._limiters.popitem(last=False)
            self._warned.discard(quiet)
        if limiter.has_capacity():
            await limiter.acquire()  # immediate: there is capacity
            self._warned.discard(person)
            return Verdict.ANSWER
        if person in self._warned:
            return Verdict.DROP
        self._warned.add(person)
        return Verdict.WARN
