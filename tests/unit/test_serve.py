"""The inspection service's pure parts: request parsing and limits, scoring, the batcher, the body limit."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest
from PIL import Image

from compclip.negatives.types import TYPES
from compclip.serve.config import ServeConfig
from compclip.serve.engine import Batcher
from compclip.serve.inspection import HardNegatives, inspect, zeroshot
from compclip.serve.payloads import Parser, v2_response
from compclip.serve.server import REPOSITORY, BodyLimit, ClosedPaths

SPEC = "a red cube to the left of a blue ring"


def png(width: int = 8, height: int = 8, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def fake_negatives(specification: str, types: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(f"{specification} ({t})", t) for t in types]


@pytest.fixture
def parser() -> Parser:
    config = ServeConfig(max_pixels=100, max_candidates=3, max_instances=2, max_caption_chars=60)
    return Parser(config, lambda image: image.size, fake_negatives)  # the size stands in for the tensor


def test_v1_instances_parse_into_queries(parser):
    queries = parser.v1({"instances": [
        {"image": png(), "specification": SPEC, "types": ["swap_nouns", "reshuffle"]},
        {"image": png(5, 4, "JPEG"), "labels": ["a cube", " a ring "]},
    ]})  # fmt: skip
    inspect_query, zeroshot_query = queries
    assert inspect_query.kind == "inspect" and inspect_query.specification == SPEC
    assert inspect_query.types == ("swap_nouns", "reshuffle")
    assert inspect_query.texts == (f"{SPEC} (swap_nouns)", f"{SPEC} (reshuffle)")
    assert inspect_query.image == (8, 8)
    assert zeroshot_query.kind == "zeroshot" and zeroshot_query.texts == ("a cube", "a ring")
    assert zeroshot_query.image == (5, 4)


def test_given_candidates_keep_their_types(parser):
    (query,) = parser.v1({"instances": [
        {"image": png(), "specification": SPEC,
         "candidates": ["a blue cube", {"caption": "a red ring", "type": "x"}]}
    ]})  # fmt: skip
    assert query.texts == ("a blue cube", "a red ring") and query.types == ("given", "x")


def test_v2_tensors_parse_like_v1(parser):
    fields = {"specification": SPEC, "candidates": ["a blue cube"]}
    request = InferRequest("m", [
        InferInput("image", [1], "BYTES", [png()]),
        InferInput("query", [1], "BYTES", [json.dumps(fields)]),
    ])  # fmt: skip
    assert parser.v2(request) == parser.v1({"instances": [{"image": png(), **fields}]})


BAD_V1 = [
    ({"instances": []}, "at least one instance"),
    ([], "at least one instance"),
    ({"instances": [{"image": png(), "labels": ["a"]}] * 3}, "3 instances in one request; the limit is 2"),
    ({"instances": ["x"]}, r"instances\[0\]: expected an object"),
    ({"instances": [{"specification": SPEC}]}, "missing field 'image'"),
    ({"instances": [{"image": png()}]}, "exactly one of 'specification'"),
    ({"instances": [{"image": png(), "labels": ["a"], "specification": SPEC}]}, "exactly one of"),
    ({"instances": [{"image": png(), "labels": ["a"], "colour": 1}]}, r"unknown fields \['colour'\]"),
    ({"instances": [{"image": png(), "labels": ["a", "b", "c", "d"]}]}, "4 given; the limit is 3"),
    ({"instances": [{"image": png(), "labels": []}]}, "expected a non-empty list"),
    ({"instances": [{"image": png(), "labels": ["a", 3]}]}, r"labels\[1\]: expected a non-empty string"),
    ({"instances": [{"image": png(), "specification": "x" * 61}]}, "61 characters; the limit is 60"),
    ({"instances": [{"image": png(), "specification": SPEC, "candidates": ["a"] * 4}]},
     "4 given; the limit is 3"),
    ({"instances": [{"image": png(), "specification": SPEC, "candidates": [{"type": "x"}]}]},
     "has 'caption'"),
    ({"instances": [{"image": png(), "specification": SPEC, "types": ["colour"]}]}, "list of reshuffle"),
    ({"instances": [{"image": png(), "specification": SPEC, "candidates": ["a"], "types": ["reshuffle"]}]},
     "drop it when giving 'candidates'"),
    ({"instances": [{"image": png(), "labels": ["a"], "candidates": ["b"]}]}, "go with 'specification'"),
    ({"instances": [{"image": "not base64!", "labels": ["a"]}]}, r"instances\[0\].image: not valid base64"),
    ({"instances": [{"image": base64.b64encode(b"GIF89a...").decode(), "labels": ["a"]}]},
     "not a PNG or JPEG"),
    ({"instances": [{"image": png(11, 10), "labels": ["a"]}]}, "11x10 pixels; the limit is 100"),
    ({"instances": [{"image": png()[:40], "labels": ["a"]}]}, "truncated or corrupt|not a PNG"),
    ({"instances": [{"image": 5, "labels": ["a"]}]}, "expected a base64 string"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BAD_V1)
def test_bad_v1_requests_name_the_problem(parser, body, message):
    with pytest.raises(InvalidInput, match=message):
        parser.v1(body)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([InferInput("image", [1], "BYTES", [png()])], r"inputs 'image' and 'query', got \['image'\]"),
        ([InferInput("image", [1], "BYTES", [png()]), InferInput("query", [1], "FP32", [1.0])],
         "datatype BYTES"),
        ([InferInput("image", [2], "BYTES", [png(), png()]), InferInput("query", [1], "BYTES", ["{}"])],
         "'image' has 2 elements but 'query' has 1"),
        ([InferInput("image", [1], "BYTES", [png()]), InferInput("query", [1], "BYTES", ["{"])], "not JSON"),
        ([InferInput("image", [1], "BYTES", [png()]), InferInput("query", [1], "BYTES", ['{"image": "x"}'])],
         "without 'image'"),
        ([InferInput("image", [1], "BYTES", [png()]), InferInput("query", [1], "BYTES", [b"\xff"])], "UTF-8"),
        # the declared shape must be the data's: [N], N elements
        ([InferInput("image", [3], "BYTES", [png()]), InferInput("query", [1], "BYTES", ["{}"])],
         r"'image': declared shape \[3\] but 1 elements"),
        ([InferInput("image", [1, 1], "BYTES", [[png()]]), InferInput("query", [1], "BYTES", ["{}"])],
         r"'image': declared shape \[1, 1\]"),
        ([InferInput("image", [1], "BYTES", [png()]), InferInput("query", [], "BYTES", ["{}"])],
         r"'query': declared shape \[\]"),
    ],
)  # fmt: skip
def test_bad_v2_requests_name_the_problem(parser, inputs, message):
    with pytest.raises(InvalidInput, match=message):
        parser.v2(InferRequest("m", inputs))


def test_a_request_has_a_budget_of_pixels_and_texts():
    config = ServeConfig(max_pixels=100, max_request_pixels=150, max_request_texts=5, max_instances=8)
    parser = Parser(config, lambda image: image.size, fake_negatives)
    assert len(parser.v1({"instances": [{"image": png(), "labels": ["a", "b"]}] * 2})) == 2  # 128 px, 4 texts
    with pytest.raises(
        InvalidInput, match=r"instances\[2\].image: the request's images exceed 150 pixels in all"
    ):
        parser.v1({"instances": [{"image": png(), "labels": ["a"]}] * 3})  # 3 x 64 pixels
    with pytest.raises(InvalidInput, match=r"instances\[1\]: the request holds over 5 texts"):
        parser.v1(
            {"instances": [{"image": png(), "specification": SPEC, "types": ["reshuffle", "swap_nouns"]}] * 2}
        )
    # each request starts afresh
    assert len(parser.v1({"instances": [{"image": png(), "labels": ["a", "b", "c", "d", "e"]}]})) == 1


def test_no_generated_negative_asks_for_candidates():
    parser = Parser(ServeConfig(), lambda image: image, lambda spec, types: [])
    with pytest.raises(InvalidInput, match="give 'candidates' explicitly"):
        parser.v1({"instances": [{"image": png(), "specification": "cubes"}]})


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_inspect_reports_margin_and_the_types_that_beat_the_specification():
    image = unit(1, 0, 0)
    texts = np.stack([unit(1, 1, 0), unit(0, 1, 0), unit(1, 0.1, 0)])
    answer = inspect(image, SPEC, unit(1, 0.5, 0), ["a", "b", "c"], ["swap", "replace", "swap"], texts)
    assert answer["score"] == pytest.approx(float(unit(1, 0.5, 0)[0]))
    assert [c["caption"] for c in answer["candidates"]] == ["c", "a", "b"]
    assert answer["margin"] == pytest.approx(answer["score"] - answer["candidates"][0]["score"])
    assert not answer["passed"] and answer["beating_types"] == ["swap"]
    passing = inspect(image, SPEC, unit(1, 0, 0), ["a", "b"], ["swap", "replace"], texts[:2])
    assert passing["passed"] and passing["margin"] > 0 and passing["beating_types"] == []


def test_zeroshot_probabilities_follow_the_scores():
    texts = np.stack([unit(0, 1, 0), unit(1, 0.2, 0), unit(1, 1, 0)])
    answer = zeroshot(unit(1, 0, 0), ["ring", "cube", "cone"], texts, logit_scale=10.0)
    assert answer["top_label"] == "cube"
    assert [entry["label"] for entry in answer["labels"]] == ["cube", "cone", "ring"]
    assert sum(entry["probability"] for entry in answer["labels"]) == pytest.approx(1.0)
    scores = np.array([entry["score"] for entry in answer["labels"]])
    expected = np.exp(10 * scores) / np.exp(10 * scores).sum()
    assert [entry["probability"] for entry in answer["labels"]] == pytest.approx(expected.tolist())


def test_hard_negatives_come_from_the_rule_generator_and_are_stable():
    negatives = HardNegatives(per_type=2, seed=0, filter=ServeConfig().filter)
    pairs = negatives(SPEC, TYPES)
    assert pairs == HardNegatives(per_type=2, seed=0, filter=ServeConfig().filter)(SPEC, TYPES)
    kinds = [t for _, t in pairs]
    assert set(kinds) >= {"swap_adjectives", "swap_nouns", "invert_relations"}
    assert all(kinds.count(t) <= 2 for t in TYPES) and all(c != SPEC for c, _ in pairs)
    inverted = [c for c, t in pairs if t == "invert_relations"]
    assert inverted and all("right of a blue ring" in c and c.startswith("a red cube") for c in inverted)
    assert ("a blue cube to the left of a red ring", "swap_adjectives") in pairs
    assert [c for c, t in negatives(SPEC, ("reshuffle",))] == [c for c, t in pairs if t == "reshuffle"]


def test_batcher_groups_concurrent_requests_and_keeps_their_answers_apart():
    passes = []

    def answer(queries):
        passes.append(len(queries))
        return [q * 10 for q in queries]

    async def main():
        batcher = Batcher(answer, max_batch=8, wait_ms=50)
        results = await asyncio.gather(*(batcher.submit([i, i + 100]) for i in range(5)))
        batcher.close()
        return results

    results = asyncio.run(main())
    assert results == [[i * 10, (i + 100) * 10] for i in range(5)]
    assert sum(passes) == 10 and max(passes) > 2 and all(p <= 8 for p in passes)


def test_batcher_fails_only_the_pass_that_failed():
    def answer(queries):
        if "bad" in queries:
            raise RuntimeError("boom")
        return queries

    async def main():
        batcher = Batcher(answer, max_batch=1, wait_ms=0)
        bad, good = await asyncio.gather(
            batcher.submit(["bad"]), batcher.submit(["ok"]), return_exceptions=True
        )
        batcher.close()
        return bad, good

    bad, good = asyncio.run(main())
    assert isinstance(bad, RuntimeError) and good == ["ok"]


def test_v2_response_carries_one_json_answer_per_instance():
    request = InferRequest("m", [], request_id="r1")
    response = v2_response(request, "m", [{"kind": "zeroshot"}, {"kind": "inspect"}])
    (output,) = response.outputs
    assert response.id == "r1" and output.name == "result" and output.datatype == "BYTES"
    assert [json.loads(x)["kind"] for x in output.data] == ["zeroshot", "inspect"]


def run_asgi(
    app, chunks: list[bytes], headers: list[tuple[bytes, bytes]], path: str = "/"
) -> tuple[int, bytes]:
    sent, messages = (
        [],
        [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)],
    )

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": headers, "path": path}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def echo(scope, receive, send):
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message["body"], message["more_body"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_body_limit_refuses_large_bodies_declared_or_streamed():
    app = BodyLimit(echo, max_bytes=10)
    assert run_asgi(app, [b"12345", b"67890"], []) == (200, b"1234567890")
    status, body = run_asgi(app, [b"123456", b"789012"], [])
    assert status == 413 and b"exceeds the limit of 10 bytes" in body
    status, body = run_asgi(app, [b"1"], [(b"content-length", b"11")])
    assert status == 413 and b"11 bytes" in body


def test_the_model_repository_extension_is_closed():
    app = ClosedPaths(echo, prefixes=REPOSITORY)
    for path in ("/v2/repository/models/compclip/unload", "/v2/repository/models/compclip/load"):
        status, body = run_asgi(app, [b""], [], path)
        assert status == 404 and b"is not served" in body
    assert run_asgi(app, [b"{}"], [], "/v2/models/compclip/infer") == (200, b"{}")


def test_params_serve_section_and_cli_flags_build_the_config(capsys):
    from compclip.cli import build_parser, main
    from compclip.config import load_section
    from compclip.serve.cli import _config

    params = str(Path(__file__).resolve().parents[2] / "params.yaml")
    config = load_section(ServeConfig, params, "serve")
    assert config.types == TYPES and not config.filter.inverse_relations and config.max_batch == 16
    argv = ["serve", "--model", "m", "--name", "n", "--params", params, "--host", "0.0.0.0"]
    args = build_parser(argv).parse_args([*argv, "--max-batch", "1", "--max-pixels", "99"])
    assert _config(args) == ServeConfig(
        host="0.0.0.0", max_batch=1, max_pixels=99, types=config.types, filter=config.filter
    )
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0 and "--host 0.0.0.0 --port 8080" in capsys.readouterr().out
