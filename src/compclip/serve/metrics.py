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
BATCH = Histogram(
    "compclip_serve_batch_queries",
    "Queries per forward pass",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


def count_answers(model: str, answers: list[dict]) -> None:
    for answer in answers:
        QUERIES.labels(model, answer["kind"]).inc()
        if answer["kind"] == "inspect":
            INSPECTIONS.labels(model, "pass" if answer["passed"] else "fail").inc()
