"""deploy.service: the InferenceService of one registry version, as pure functions over dicts."""

from __future__ import annotations

import copy

import pytest

from compclip.deploy.service import check_image, find_service, render, storage_uri, version_of
from compclip.errors import UserError

URI = "s3://models/registry/compclip/v3/"


def template(image: str = "registry.example/compclip/compclip-serve:0.1.0") -> dict:
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
    rendered = render(service, URI, "compclip", "production")
    assert service == before  # the template is not touched
    assert storage_uri(rendered) == URI
    env = rendered["spec"]["predictor"]["containers"][1]["env"]
    assert [e["name"] for e in env] == ["STORAGE_URI", "HOME"]  # replaced, not duplicated
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
    assert storage_uri(render(service, URI, "compclip", "staging")) == URI


def test_render_is_idempotent():
    once = render(template(), URI, "compclip", "production")
    assert render(once, URI, "compclip", "production") == once


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
        render(template(), uri, "compclip", "production")


@pytest.mark.parametrize(
    "image",
    ["compclip-serve", "compclip-serve:latest", "localhost:5000/compclip/compclip-serve", ""],
)
def test_render_refuses_an_image_without_a_version(image):
    with pytest.raises(UserError, match="never 'latest'"):
        render(template(image), URI, "compclip", "production")


@pytest.mark.parametrize(
    "image",
    ["localhost:5000/compclip/compclip-serve:0.1.0", "ghcr.io/o/compclip-serve@sha256:" + "0" * 64],
)
def test_a_tag_or_a_digest_names_a_version(image):
    assert check_image(image) == image


def test_render_checks_stage_and_name():
    with pytest.raises(UserError, match="stage"):
        render(template(), URI, "compclip", "dev")
    with pytest.raises(UserError, match="model name"):
        render(template(), URI, "Bad Name", "production")


def test_render_needs_the_serving_container():
    service = template()
    service["spec"]["predictor"]["containers"].pop()
    with pytest.raises(UserError, match="kserve-container"):
        render(service, URI, "compclip", "production")


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
