"""Prometheus metrics, served at ``/metrics``.

Counters and histograms are per process (with several server processes, scrape each, or
sum them in Prometheus); the outbox figures are read from the database at each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

_Metric = TypeVar("_Metric", bound=MetricWrapperBase)


@lru_cache(maxsize=1024)
def labelled(metric: _Metric, *values: str) -> _Metric:
    """``metric.labels(*values)``, looked up once per set of values: every webhook counts
    itself, and the library's own lookup takes longer than the count."""
    return metric.labels(*values)


WEBHOOKS = Counter(
    "ivr_webhooks_total",
    "Webhooks answered, by route, the step the call was at, and outcome.",
    ["route", "step", "outcome"],
)
WEBHOOKS_WITH_DATABASE = Counter(
    "ivr_webhooks_database_total",
    "Webhooks that needed the database (a call coming in, a personal number, a report, a "
    "status callback); the other steps of a call are answered from its progress alone.",
    ["route"],
)
WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_seconds",
    "Time to answer a webhook.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ABSENCES = Counter("ivr_absences_recorded_total", "Absences recorded from calls.")
REFUSED_CALLS = Counter(
    "ivr_calls_refused_total",
    "Calls refused before the first prompt, by reason (hidden number, unknown line, too "
    "many unknown personal numbers from the caller).",
    ["reason"],
)
UNKNOWN_PUPILS = Counter(
    "ivr_unknown_personal_numbers_total",
    "Valid personal numbers keyed that are not in the line's roster (enumeration attempts).",
)
BAD_SIGNATURES = Counter(
    "ivr_bad_signatures_total", "Webhooks refused for a missing or wrong signature.", ["route"]
)
CONFIRMATIONS_SENT = Counter(
    "ivr_confirmations_total",
    "Outcomes of sending confirmations, by channel and outcome (sent, retry, failed).",
    ["channel", "outcome"],
)
OUTBOX = Gauge("ivr_outbox_messages", "Messages in the outbox, by status.", ["status"])
ROSTER_SYNCS = Counter(
    "ivr_roster_syncs_total",
    "Runs of the roster sync from a school's system: full, delta, failed (the source could "
    "not be read) or refused (the safety valve); the last two wrote nothing.",
    ["outcome"],
)
ROSTER_CHANGES = Counter(
    "ivr_roster_changes_total",
    "Pupils added, changed, deactivated (left) and enrolled again (returned), and guardians "
    "linked and unlinked, by roster syncs.",
    ["kind"],
)


class WebhookFigures(Collector):
    """Absence webhooks by endpoint: deliveries by outcome and those waiting. Whichever
    process made them (the server's dispatcher or an ``ivr worker``), they are counted on
    the endpoint's row and read from the database at each scrape (``update``)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int, int, int]] = []

    def update(self, rows: list[tuple[int, int, int, int, int]]) -> None:
        """``(endpoint id, sent, retried, failed, pending)`` of every endpoint."""
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "ivr_webhook_deliveries",
            "Attempts to post absence events, by endpoint id and outcome: sent (2xx), retry "
            "(a failure to try again), failed (given up, or 410 Gone, which disables the "
            "endpoint).",
            labels=["endpoint", "outcome"],
        )
        pending = GaugeMetricFamily(
            "ivr_webhook_pending",
            "Absence events waiting to be posted (or being posted), by endpoint id.",
            labels=["endpoint"],
        )
        for endpoint, sent, retried, failed, waiting in self.rows:
            for outcome, count in (("sent", sent), ("retry", retried), ("failed", failed)):
                deliveries.add_metric([str(endpoint), outcome], count)
            pending.add_metric([str(endpoint)], waiting)
        yield deliveries
        yield pending


WEBHOOKS_OUT = WebhookFigures()
REGISTRY.register(WEBHOOKS_OUT)
