"""Prometheus metrics: one registry per running bot, so nothing is shared between two of them."""

from __future__ import annotations

from contextlib import AbstractContextManager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Seconds: a reply should take well under one; searches are budgeted in tens of milliseconds.
UPDATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
SOURCES = ("reply", "delivery")
OUTCOMES = ("sent", "failed", "blocked")
SEARCH_INDEXES = ("opportunity", "faq")


class Metrics:
    """What the bot counts and times, registered in a registry of its own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.updates = Counter(
            "passaparola_updates",
            "Updates handled, by kind (command, text, button, inline_query, membership, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            "passaparola_update_seconds",
            "Time from an update's arrival at the adapter until its replies were sent.",
            ["kind"],
            buckets=UPDATE_BUCKETS,
            registry=self.registry,
        )
        self.messages = Counter(
            "passaparola_messages",
            "Messages to people, by source (reply, delivery) and outcome (sent, failed, blocked).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "passaparola_delivery_queue_depth",
            "Queued deliveries that are due now, as last seen by the delivery worker.",
            registry=self.registry,
        )
        self.search_seconds = Histogram(
            "passaparola_search_seconds",
            "Time a search took, by index (opportunity, faq).",
            ["index"],
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        # Series that exist from the start read 0 instead of "no data" until the first event.
        for source in SOURCES:
            for outcome in OUTCOMES:
                self.messages.labels(source, outcome)
        for index in SEARCH_INDEXES:
            self.search_seconds.labels(index)

    def update_handled(self, kind: str, seconds: float) -> None:
        """Count one update of `kind` that took `seconds` to answer."""
        self.updates.labels(kind).inc()
        self.update_seconds.labels(kind).observe(seconds)

    def message(self, source: str, outcome: str) -> None:
        """Count one message from `source` ("reply" or "delivery") that was sent, failed, ..."""
        self.messages.labels(source, outcome).inc()

    def delivery_outcome(self, outcome: str) -> None:
        """The delivery worker settled one delivery: "sent", "failed" or "blocked"."""
        self.message("delivery", outcome)

    def queued(self, due: int) -> None:
        """The delivery worker saw this many queued deliveries due now."""
        self.queue_depth.set(due)

    def search_timer(self, index: str) -> AbstractContextManager[object]:
        """A `with` block that times one search in `index`."""
        return self.search_seconds.labels(index).time()

    def render(self) -> bytes:
        """Every metric in Prometheus' text exposition format."""
        return generate_latest(self.registry)
