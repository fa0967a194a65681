"""The InferenceService of one registry version, as plain dicts: pure functions, no I/O.

The serving container (``kserve-container``) names the version in its ``STORAGE_URI``: KServe's
storage initializer copies that prefix to ``/mnt/models`` before the server starts.
"""

from __future__ import annotations

import copy

from compclip.errors import UserError
from compclip.registry.layout import check_name, check_stage, version_number

KIND = "InferenceService"
PLURAL = "inferenceservices"
API_GROUP = "serving.kserve.io"
CONTAINER = "kserve-container"
STORAGE_ENV = "STORAGE_URI"
ANNOTATION = "compclip.io"


def find_service(objects: list[dict]) -> dict:
    """The one InferenceService among an overlay's objects."""
    found = [o for o in objects if o.get("kind") == KIND and o.get("apiVersion", "").startswith(API_GROUP)]
    if len(found) != 1:
        raise UserError(f"expected one {KIND} in the overlay, found {len(found)}")
    return found[0]


def _container(service: dict) -> dict:
    containers = service.get("spec", {}).get("predictor", {}).get("containers", [])
    for container in containers:
        if container.get("name") == CONTAINER:
            return container
    raise UserError(f"{KIND} {service['metadata']['name']!r} has no container named {CONTAINER!r}")


def storage_uri(service: dict) -> str | None:
    """The registry version a service serves (its serving container's ``STORAGE_URI``)."""
    env = _container(service).get("env", [])
    return next((e.get("value") for e in env if e.get("name") == STORAGE_ENV), None)


def version_of(uri: str) -> str:
    """``s3://B/registry/NAME/v3/`` -> ``"v3"``; a UserError for anything but a version prefix."""
    if not uri.startswith("s3://") or not uri.endswith("/"):
        raise UserError(f"not a registry version URI (s3://.../registry/NAME/vN/): {uri!r}")
    version = uri.rstrip("/").rsplit("/", 1)[-1]
    version_number(version)
    return version


def check_image(image: str) -> str:
    """Refuse an image that names no version: untagged, or tagged ``latest``."""
    repository = image.rsplit("/", 1)[-1]
    if "@" in repository:
        return image
    tag = repository.partition(":")[2]
    if not tag or tag == "latest":
        raise UserError(f"serving image {image!r} must name a version tag (or digest), never 'latest'")
    return image


def render(service: dict, uri: str, name: str, stage: str) -> dict:
    """A copy of ``service`` serving the version at ``uri``, which ``stage`` of ``name`` points to.

    Sets the serving container's ``STORAGE_URI`` and annotates the service with the model, the
    stage and the version, so the committed manifest says what it serves.
    """
    version = version_of(uri)
    out = copy.deepcopy(service)
    container = _container(out)
    check_image(container.get("image", ""))
    env = [e for e in container.get("env", []) if e.get("name") != STORAGE_ENV]
    container["env"] = [{"name": STORAGE_ENV, "value": uri}, *env]
    out["metadata"].setdefault("annotations", {}).update(
        {
            f"{ANNOTATION}/model": check_name(name),
            f"{ANNOTATION}/stage": check_stage(stage),
            f"{ANNOTATION}/version": version,
        }
    )
    return out
