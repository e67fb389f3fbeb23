"""Metrics are Prometheus text with the names the docs promise; logs are one JSON object per
line with their fields."""

from __future__ import annotations

import io
import json
import logging

from suanwang.control.logs import log, setup
from suanwang.control.metrics import Metrics

PROMISED = (
    "suanwang_tasks",
    "suanwang_queue_depth",
    "suanwang_placement_latency_seconds",
    "suanwang_tick_seconds",
    "suanwang_dispatches",
    "suanwang_backend_errors",
    "suanwang_attempts_lost",
    "suanwang_ledger_transactions",
    "suanwang_ledger_balance_micros",
    "suanwang_sites_silent",
)


def test_every_promised_metric_is_exposed() -> None:
    m = Metrics()
    m.tasks.labels("running").set(3)
    m.dispatches.labels("sim").inc()
    m.backend_errors.labels("slurm", "poll").inc()
    m.lost.labels("heartbeat").inc()
    m.ledger_balance.labels("escrow").set(5)
    text = m.exposition().decode()
    for name in PROMISED:
        assert f"# HELP {name}" in text, name
    assert 'suanwang_tasks{state="running"} 3.0' in text
    assert 'suanwang_backend_errors_total{backend="slurm",call="poll"} 1.0' in text


def test_two_runtimes_keep_separate_metrics() -> None:
    a, b = Metrics(), Metrics()
    a.queue_depth.set(7)
    assert "suanwang_queue_depth 0.0" in b.exposition().decode()


def test_logs_are_json_lines_with_their_fields() -> None:
    out = io.StringIO()
    setup("info", out)
    log(logging.INFO, "lease closed", lease="t-1.1", reason="completed")
    log(logging.DEBUG, "not shown")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["msg"] == "lease closed"
    assert rec["lease"] == "t-1.1"
    assert rec["reason"] == "completed"
    assert rec["level"] == "info"
    assert rec["ts"].endswith("+00:00")
