"""Prometheus metrics of the control plane (one registry per runtime, no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Tasks by state, placement latency, queue depth, backend errors, ledger totals, ticks."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.tasks = Gauge("suanwang_tasks", "Tasks by lifecycle state", ["state"], registry=r)
        self.queue_depth = Gauge("suanwang_queue_depth", "Tasks waiting for placement", registry=r)
        self.placement_latency = Histogram(
            "suanwang_placement_latency_seconds",
            "Time from submission (or requeue) to placement",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.tick_seconds = Histogram(
            "suanwang_tick_seconds",
            "Duration of one runtime tick",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.dispatches = Counter(
            "suanwang_dispatches", "Attempts handed to a backend", ["backend"], registry=r
        )
        self.backend_errors = Counter(
            "suanwang_backend_errors", "Failed calls to a backend", ["backend", "call"], registry=r
        )
        self.lost = Counter(
            "suanwang_attempts_lost", "Attempts lost, by typed reason", ["reason"], registry=r
        )
        self.ledger_txns = Gauge("suanwang_ledger_transactions", "Ledger transactions", registry=r)
        self.ledger_balance = Gauge(
            "suanwang_ledger_balance_micros",
            "Ledger balance by account kind (tenant, escrow, provider, carrier, platform...)",
            ["kind"],
            registry=r,
        )
        self.sites_silent = Gauge(
            "suanwang_sites_silent", "Sites past their heartbeat grace or down", registry=r
        )

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
