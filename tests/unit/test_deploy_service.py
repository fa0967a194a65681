"""deploy.service: the InferenceService of one registry version, as pure functions over dicts."""

from __future__ import annotations

import copy

import pytest

from compclip.deploy.service import check_image, find_service, render, storage_uri, version_of
from compclip.errors import UserError

URI = "s3://models/registry/compclip/v3/"
DIGEST = "ab" * 32  # the manifest's sha256 the alias pinned
PINNED = "registry.example/compclip/compclip-serve@sha256:" + "1f" * 32


def template(image: str = PINNED) -> dict:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "compclip", "namespace": "compclip-production"},
        "spec": {
            "predictor": {
                "containers": [
                    {"name": "sidecar", "image": "busybox:1.36"},
                    {
                        "name": "kserve-container",
                        "image": image,
                        "env": [
                            {"name": "HOME", "value": "/tmp"},
                            {"name": "STORAGE_URI", "value": "s3://models/registry/compclip/v1/"},
                        ],
                    },
                ]
            }
        },
    }


def test_render_points_the_serving_container_at_the_version():
    service = template()
    before = copy.deepcopy(service)
    rendered = render(service, URI, DIGEST, "compclip", "production")
    assert service == before  # the template is not touched
    assert storage_uri(rendered) == URI
    env = rendered["spec"]["predictor"]["containers"][1]["env"]
    assert env[:2] == [
        {"name": "STORAGE_URI", "value": URI},
        {"name": "COMPCLIP_MANIFEST_SHA256", "value": DIGEST},
    ]
    assert [e["name"] for e in env] == ["STORAGE_URI", "COMPCLIP_MANIFEST_SHA256", "HOME"]  # not duplicated
    assert rendered["spec"]["predictor"]["containers"][0] == service["spec"]["predictor"]["containers"][0]
    assert rendered["metadata"]["annotations"] == {
        "compclip.io/model": "compclip",
        "compclip.io/stage": "production",
        "compclip.io/version": "v3",
    }


def test_render_adds_storage_where_the_template_has_none():
    service = template()
    del service["spec"]["predictor"]["containers"][1]["env"]
    assert storage_uri(service) is None
    assert storage_uri(render(service, URI, DIGEST, "compclip", "staging")) == URI


def test_render_is_idempotent():
    once = render(template(), URI, DIGEST, "compclip", "production")
    assert render(once, URI, DIGEST, "compclip", "production") == once


@pytest.mark.parametrize(
    "uri",
    [
        "s3://models/registry/compclip/v3",  # not a prefix
        "s3://models/registry/compclip/latest/",
        "s3://models/registry/compclip/v0/",
        "/mnt/models/v3/",
        "gs://models/registry/compclip/v3/",
    ],
)
def test_render_refuses_what_is_not_a_version(uri):
    with pytest.raises(UserError, match="version"):
        render(template(), uri, DIGEST, "compclip", "production")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("compclip-serve", "pinned by digest"),
        ("ghcr.io/o/compclip-serve:0.1.0", "pinned by digest"),  # a tag can be moved
        ("localhost/compclip/compclip-serve:latest", "never 'latest'"),
        ("localhost:5000/compclip/compclip-serve", "never 'latest'"),
        ("ghcr.io/o/compclip-serve@sha256:" + "0" * 64, "placeholder digest"),
        ("", "pinned by digest"),
    ],
)
def test_render_refuses_an_image_not_pinned(image, message):
    with pytest.raises(UserError, match=message):
        render(template(image), URI, DIGEST, "compclip", "production")


@pytest.mark.parametrize(
    "image",
    ["localhost:5000/compclip/compclip-serve:0.1.0", "localhost/compclip/compclip-serve:0.1.0", PINNED],
)
def test_a_digest_or_a_local_tag_names_a_version(image):
    assert check_image(image) == image


def test_a_gpu_is_asked_for_exactly_when_the_server_runs_on_one():
    service = template()
    container = service["spec"]["predictor"]["containers"][1]
    container["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    container["args"] = ["serve", "--model", "/mnt/models"]
    with pytest.raises(UserError, match="requests a GPU but runs without `--device cuda`"):
        render(service, URI, DIGEST, "compclip", "production")
    container["args"] += ["--device", "cuda"]
    assert render(service, URI, DIGEST, "compclip", "production")
    container["resources"] = {"limits": {"cpu": "2"}}
    with pytest.raises(UserError, match="requests no GPU but runs on `--device cuda`"):
        render(service, URI, DIGEST, "compclip", "production")


def test_render_checks_stage_and_name():
    with pytest.raises(UserError, match="stage"):
        render(template(), URI, DIGEST, "compclip", "dev")
    with pytest.raises(UserError, match="model name"):
        render(template(), URI, DIGEST, "Bad Name", "production")


def test_render_needs_the_serving_container():
    service = template()
    service["spec"]["predictor"]["containers"].pop()
    with pytest.raises(UserError, match="kserve-container"):
        render(service, URI, DIGEST, "compclip", "production")


def test_find_service_wants_exactly_one():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    assert find_service([namespace, template()]) == template()
    with pytest.raises(UserError, match="found 0"):
        find_service([namespace])
    with pytest.raises(UserError, match="found 2"):
        find_service([template(), template()])


def test_version_of():
    assert version_of(URI) == "v3"
    assert version_of("s3://b/prefix/registry/m/v12/") == "v12"
