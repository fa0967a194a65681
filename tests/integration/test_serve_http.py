"""The inspection service over HTTP on loopback: `compclip serve` in a child process with a tiny
random-weight model, spoken to with kserve's InferenceRESTClient (V2) and plain requests (V1),
through every error path; the server answers after each."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
from pathlib import Path

import fsspec
import httpx
import pytest
import requests
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from PIL import Image, ImageDraw

from compclip.errors import UserError
from compclip.models import create_model, save_model
from compclip.negatives.types import TYPES
from compclip.serve import InspectionModel, ServeConfig, local

pytestmark = pytest.mark.integration

NAME = "compclip"
SPEC = "a red cube to the left of a blue ring"
MAX_PIXELS, MAX_CANDIDATES, MAX_BYTES = 200 * 200, 8, 200_000


def scene(size: int = 64) -> str:
    """A red square left of a blue ring, as base64 PNG."""
    image = Image.new("RGB", (size, size), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 20, 26, 42), fill=(220, 30, 30))
    draw.ellipse((36, 20, 58, 42), outline=(30, 60, 220), width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve") / "tiny"
    save_model(create_model("compclip-tiny-vit", seed=1), folder)
    return folder


@pytest.fixture(scope="module")
def service(model_dir):
    limits = ("--max-pixels", str(MAX_PIXELS), "--max-candidates", str(MAX_CANDIDATES))
    args = (*limits, "--max-payload-bytes", str(MAX_BYTES), "--max-batch", "8")
    server = local.start(str(model_dir), NAME, model_dir.parent / "serve.log", args)
    yield server
    local.stop(server)


def v1(service, body, name: str = NAME) -> requests.Response:
    return requests.post(f"{service.url}/v1/models/{name}:predict", json=body, timeout=60)


def v2(service, image: str, query: dict | str, n: int = 1):
    """A V2 inference with kserve's own client; returns the answers."""
    text = query if isinstance(query, str) else json.dumps(query)
    request = InferRequest(
        NAME,
        [InferInput("image", [n], "BYTES", [image] * n), InferInput("query", [n], "BYTES", [text] * n)],
        request_id="req-1",
    )

    async def call():
        async with InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=60)) as client:
            return await client.infer(service.url, request, model_name=NAME)

    response = asyncio.run(call())
    assert response.id == "req-1"
    (output,) = response.outputs
    assert output.name == "result" and output.datatype == "BYTES" and output.shape == [n]
    return [json.loads(x) for x in output.data]


def still_serving(service) -> None:
    assert requests.get(f"{service.url}/v2/health/ready", timeout=10).status_code == 200
    response = v1(service, {"instances": [{"image": scene(), "labels": ["a cube", "a ring"]}]})
    assert response.status_code == 200 and response.json()["predictions"][0]["kind"] == "zeroshot"


def test_inspection_with_generated_negatives_over_v1(service):
    response = v1(service, {"instances": [{"image": scene(), "specification": SPEC}]})
    assert response.status_code == 200
    (answer,) = response.json()["predictions"]
    candidates = answer["candidates"]
    assert answer["specification"] == SPEC and len(candidates) >= 5
    assert {c["type"] for c in candidates} <= set(TYPES)
    assert {"swap_adjectives", "invert_relations"} <= {c["type"] for c in candidates}
    best = max(c["score"] for c in candidates)
    assert answer["margin"] == pytest.approx(answer["score"] - best)
    assert answer["passed"] == (answer["margin"] > 0)
    beating = {c["type"] for c in candidates if c["score"] >= answer["score"]}
    assert answer["beating_types"] == sorted(beating)
    assert all(c["beats_specification"] == (c["score"] >= answer["score"]) for c in candidates)


def test_v2_answers_like_v1_and_carries_several_instances(service):
    query = {
        "specification": SPEC,
        "candidates": ["a blue cube to the left of a red ring", {"caption": "a red ring"}],
    }
    (by_v1,) = v1(service, {"instances": [{"image": scene(), **query}]}).json()["predictions"]
    by_v2 = v2(service, scene(), query, n=3)
    assert len(by_v2) == 3
    for answer in by_v2:
        assert [c["caption"] for c in answer["candidates"]] == [c["caption"] for c in by_v1["candidates"]]
        assert answer["margin"] == pytest.approx(by_v1["margin"], abs=1e-5)
    assert {c["type"] for c in by_v1["candidates"]} == {"given"}


def test_local_predict_returns_answers_and_raises_refusals(service):
    (answer,) = local.predict(service, [{"image": scene(), "labels": ["a cube", "a ring"]}])
    assert answer["kind"] == "zeroshot" and answer["top_label"] in ("a cube", "a ring")
    with pytest.raises(UserError, match=r"answered 400: .*not valid base64"):
        local.predict(service, [{"image": "%%%", "labels": ["a"]}])


def test_zeroshot_over_v2(service):
    (answer,) = v2(service, scene(), {"labels": ["a cube", "a ring", "a dog"]})
    assert answer["kind"] == "zeroshot"
    assert answer["top_label"] == answer["labels"][0]["label"]
    assert [e["score"] for e in answer["labels"]] == sorted(
        (e["score"] for e in answer["labels"]), reverse=True
    )
    assert sum(e["probability"] for e in answer["labels"]) == pytest.approx(1.0, abs=1e-5)


def test_concurrent_requests_get_their_own_answers(service):
    labels = [[f"a {c} cube", f"a {c} ring"] for c in ("red", "blue", "green", "yellow", "white", "black")]

    async def one(client, pair):
        response = await client.post(
            f"{service.url}/v1/models/{NAME}:predict",
            json={"instances": [{"image": scene(), "labels": pair}]},
        )
        return response.status_code, response.json()["predictions"][0]

    async def many():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(one(client, pair) for pair in labels * 2))

    for pair, (status, answer) in zip(labels * 2, asyncio.run(many()), strict=True):
        assert status == 200 and {e["label"] for e in answer["labels"]} == set(pair)


def test_health_readiness_metadata_and_loopback(service):
    assert requests.get(f"{service.url}/", timeout=10).json() == {"status": "alive"}
    assert requests.get(f"{service.url}/v2/health/live", timeout=10).json() == {"live": True}
    assert requests.get(f"{service.url}/v1/models/{NAME}", timeout=10).json() == {"name": NAME, "ready": True}
    metadata = requests.get(f"{service.url}/v2/models/{NAME}", timeout=10).json()
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        ("image", "BYTES"),
        ("query", "BYTES"),
    ]
    assert [(o["name"], o["datatype"]) for o in metadata["outputs"]] == [("result", "BYTES")]
    port = int(service.url.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.read().splitlines()[1:]]
    addresses = {row[1] for row in rows if row[3] == "0A"}  # local addresses of listening sockets
    assert f"0100007F:{port:04X}" in addresses  # 127.0.0.1, in /proc/net/tcp's little-endian hex
    assert f"00000000:{port:04X}" not in addresses  # not 0.0.0.0


def test_the_model_repository_cannot_unload_the_model(service):
    for verb in ("unload", "load"):
        response = requests.post(f"{service.url}/v2/repository/models/{NAME}/{verb}", timeout=10)
        assert response.status_code == 404 and "is not served" in response.json()["error"]
    still_serving(service)


def big_png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


V1_ERRORS = [
    ("bad base64", {"instances": [{"image": "%%%", "labels": ["a"]}]}, 400, "not valid base64"),
    ("not an image", {"instances": [{"image": base64.b64encode(b"hello").decode(), "labels": ["a"]}]}, 400,
     "not a PNG or JPEG"),
    ("too many pixels", {"instances": [{"image": big_png(201, 200), "labels": ["a"]}]}, 400,
     "201x200 pixels; the limit is 40000"),
    ("too many candidates",
     {"instances": [{"image": scene(), "specification": SPEC, "candidates": ["x"] * 9}]},
     400, "9 given; the limit is 8"),
    ("too many labels", {"instances": [{"image": scene(), "labels": ["x"] * 9}]}, 400,
     "9 given; the limit is 8"),
    ("missing image", {"instances": [{"labels": ["a"]}]}, 400, "missing field 'image'"),
    ("missing question", {"instances": [{"image": scene()}]}, 400, "exactly one of 'specification'"),
    ("missing instances", {"inputs": []}, 400, "instances"),
    ("no negatives", {"instances": [{"image": scene(), "specification": "xyzzy"}]}, 400,
     "give 'candidates' explicitly"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "status", "message"), V1_ERRORS, ids=[c[0] for c in V1_ERRORS])
def test_v1_errors_are_4xx_with_a_clear_message(service, case, body, status, message):
    response = v1(service, body)
    assert response.status_code == status
    assert message in response.json()["error"]
    still_serving(service)


def test_payload_too_large_unknown_model_and_non_json(service):
    response = requests.post(
        f"{service.url}/v1/models/{NAME}:predict", data=b"{" + b" " * MAX_BYTES + b"}", timeout=30
    )
    assert response.status_code == 413 and "exceeds the limit of 200000 bytes" in response.json()["error"]
    still_serving(service)
    response = v1(service, {"instances": [{"image": scene(), "labels": ["a"]}]}, name="nobody")
    assert response.status_code == 404 and "nobody" in response.json()["error"]
    still_serving(service)
    response = requests.post(f"{service.url}/v1/models/{NAME}:predict", data=b"{not json", timeout=30)
    assert response.status_code == 400
    still_serving(service)


@pytest.mark.parametrize(
    ("image", "query", "status", "message"),
    [
        ("%%%", {"labels": ["a"]}, 400, "image: not valid base64"),
        (base64.b64encode(b"\x89PNG nope").decode(), {"labels": ["a"]}, 400, "not a PNG or JPEG"),
        (big_png(300, 300), {"labels": ["a"]}, 400, "the limit is 40000"),
        (scene(), {"specification": SPEC, "candidates": ["x"] * 9}, 400, "9 given; the limit is 8"),
        (scene(), {}, 400, "exactly one of 'specification'"),
        (scene(), "not json", 400, "not JSON"),
    ],
    ids=[
        "bad base64",
        "not an image",
        "too many pixels",
        "too many candidates",
        "missing fields",
        "not json",
    ],
)
def test_v2_errors_reach_kserves_client_as_4xx(service, image, query, status, message):
    with pytest.raises(httpx.HTTPStatusError) as caught:
        v2(service, image, query)
    assert caught.value.response.status_code == status
    assert message in caught.value.response.json()["error"]
    still_serving(service)


def test_v2_missing_input_and_unknown_model(service):
    body = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [scene()]}]}
    response = requests.post(f"{service.url}/v2/models/{NAME}/infer", json=body, timeout=30)
    assert response.status_code == 400 and "'image' and 'query'" in response.json()["error"]
    response = requests.post(f"{service.url}/v2/models/{NAME}/infer", json={"id": "x"}, timeout=30)
    assert response.status_code == 422  # no "inputs": refused by kserve's request schema
    response = requests.post(f"{service.url}/v2/models/nobody/infer", json=body, timeout=30)
    assert response.status_code == 404
    still_serving(service)


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if (
            key.split("{")[0] == name
            and ",".join(sorted(key.partition("{")[2].rstrip("}").split(","))) == wanted
        ):
            return float(value)
    return 0.0


def test_metrics_count_queries_outcomes_and_refusals(service):
    before = requests.get(f"{service.url}/metrics", timeout=10).text
    answers = v1(service, {"instances": [{"image": scene(), "specification": SPEC}] * 2}).json()[
        "predictions"
    ]
    v1(service, {"instances": [{"image": "%%%", "labels": ["a"]}]})
    after = requests.get(f"{service.url}/metrics", timeout=10).text
    passes = sum(a["passed"] for a in answers)

    def change(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert change("compclip_serve_queries_total", model=NAME, kind="inspect") == 2
    assert change("compclip_serve_inspections_total", model=NAME, outcome="pass") == passes
    assert change("compclip_serve_inspections_total", model=NAME, outcome="fail") == 2 - passes
    assert change("compclip_serve_refused_requests_total", reason="invalid_input") == 1
    assert change("compclip_serve_pass_seconds_count", model=NAME) >= 1
    assert change("compclip_serve_batch_queries_sum", model=NAME) == 2
    assert metric(after, "request_predict_seconds_count", model_name=NAME) > 0  # kserve's own


def test_load_reads_a_registry_version_from_s3(model_dir, s3_server):
    fsspec.filesystem("s3").put(str(model_dir) + "/", f"{s3_server.bucket}/registry/tiny/v1/", recursive=True)
    model = InspectionModel("tiny", f"s3://{s3_server.bucket}/registry/tiny/v1/")
    assert model.load() and model.ready
    body = {"instances": [{"image": scene(), "specification": SPEC, "candidates": ["a blue cube"]}]}
    (answer,) = asyncio.run(model.predict(body))["predictions"]
    assert answer["candidates"][0]["caption"] == "a blue cube"
    model.stop()


def test_load_refuses_tampered_folders_and_non_folders(model_dir, tmp_path):
    copy = shutil.copytree(model_dir, tmp_path / "copy")
    (copy / "open_clip_config.json").write_text("{}")
    model = InspectionModel("x", str(copy), ServeConfig())
    with pytest.raises(UserError, match=r"open_clip_config\.json does not match its sha256"):
        model.load()
    assert not model.ready
    pinned = ServeConfig(manifest_sha256="0" * 64)  # the manifest an alias pinned, not this one
    with pytest.raises(UserError, match="is not the manifest with sha256 0000"):
        InspectionModel("x", str(model_dir), pinned).load()
    unrendered = ServeConfig(manifest_sha256="set-by-compclip-deploy-render")  # the base manifest's value
    with pytest.raises(UserError, match="is not a sha256"):
        InspectionModel("x", str(model_dir), unrendered).load()
    with pytest.raises(UserError, match="no model folder at 'compclip-tiny-vit'"):
        InspectionModel("x", "compclip-tiny-vit").load()
    with pytest.raises(UserError, match="no model folder at '/no/such/dir'"):
        InspectionModel("x", "/no/such/dir").load()


def test_no_log_line_per_request(service):
    """kserve's timing lines, uvicorn's access lines and FastAPI's warning would be five writes to
    stdout on the event loop per request; the earlier tests sent dozens of requests."""
    still_serving(service)
    text = Path(service.log).read_text()
    assert "Application startup complete" in text  # the log is the server's
    for per_request in ("kserve.trace", "uvicorn.access", "FastAPIDeprecationWarning"):
        assert per_request not in text
