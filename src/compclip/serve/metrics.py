"""The service's own Prometheus metrics, served on ``/metrics`` beside kserve's."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

QUERIES = Counter(
    "compclip_serve_queries", "Instances answered, by kind (inspect, zeroshot)", ["model", "kind"]
)
INSPECTIONS = Counter(
    "compclip_serve_inspections", "Inspections by outcome (pass, fail)", ["model", "outcome"]
)
REFUSED = Counter("compclip_serve_refused_requests", "Requests refused, by reason", ["reason"])
PASS_SECONDS = Histogram(
    "compclip_serve_pass_seconds", "Seconds per forward pass (embedding and scoring a batch)", ["model"]
)
BATCH = Histogram(
    "compclip_serve_batch_queries",
    "Queries per forward pass",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


def observe_pass(model: str, n_queries: int, seconds: float) -> None:
    BATCH.labels(model).observe(n_queries)
    PASS_SECONDS.labels(model).observe(seconds)


def count_answers(model: str, answers: list[dict]) -> None:
    for answer in answers:
        QUERIES.labels(model, answer["kind"]).inc()
        if answer["kind"] == "inspect":
            INSPECTIONS.labels(model, "pass" if answer["passed"] else "fail").inc()
