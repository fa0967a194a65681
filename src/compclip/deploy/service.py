"""The InferenceService of one registry version, as plain dicts: pure functions, no I/O.

The serving container (``kserve-container``) names the version in its ``STORAGE_URI``: KServe's
storage initializer copies that prefix to ``/mnt/models`` before the server starts; and the
manifest digest the alias pinned in ``COMPCLIP_MANIFEST_SHA256``, which the server checks. A
rendered service runs an image pinned by digest (a local cluster's ``localhost/`` images may
go by tag) and asks for a GPU exactly when its server runs on one (``--device cuda``).
"""

from __future__ import annotations

import copy
import itertools

from compclip.errors import UserError
from compclip.registry.layout import check_name, check_stage, version_number

KIND = "InferenceService"
PLURAL = "inferenceservices"
API_GROUP = "serving.kserve.io"
CONTAINER = "kserve-container"
STORAGE_ENV = "STORAGE_URI"
DIGEST_ENV = "COMPCLIP_MANIFEST_SHA256"
ANNOTATION = "compclip.io"
GPU = "nvidia.com/gpu"
LOCAL = ("localhost/", "localhost:")  # a local cluster's own images (kind, k3d): no digest
PLACEHOLDER = "sha256:" + "0" * 64


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
    """Refuse an image not pinned by digest (a ``localhost/`` image: a version tag, never ``latest``),
    or pinned by the overlays' all-zero placeholder."""
    repository = image.rsplit("/", 1)[-1]
    if "@" in repository:
        if image.endswith(PLACEHOLDER):
            raise UserError(
                f"serving image {image!r} has the placeholder digest: set the pushed image's with "
                "`kustomize edit set image` in the overlay"
            )
        return image
    if not image.startswith(LOCAL):
        raise UserError(f"serving image {image!r} must be pinned by digest (REPO@sha256:...)")
    tag = repository.partition(":")[2]
    if not tag or tag == "latest":
        raise UserError(f"serving image {image!r} must name a version tag (or digest), never 'latest'")
    return image


def check_device(container: dict) -> None:
    """Refuse a GPU asked for and not used, or used and not asked for."""
    resources = container.get("resources", {})
    wants_gpu = any(GPU in part for part in resources.values())
    args = container.get("args", [])
    on_gpu = any(a == "--device" and b == "cuda" for a, b in itertools.pairwise(args))
    if wants_gpu != on_gpu:
        asked = "requests a GPU" if wants_gpu else "requests no GPU"
        runs = "on `--device cuda`" if on_gpu else "without `--device cuda`"
        raise UserError(f"the serving container {asked} but runs {runs}; make them agree in the overlay")


def render(service: dict, uri: str, manifest_sha256: str, name: str, stage: str) -> dict:
    """A copy of ``service`` serving the version at ``uri`` with the manifest ``manifest_sha256``,
    which ``stage`` of ``name`` points to.

    Sets the serving container's ``STORAGE_URI`` and ``COMPCLIP_MANIFEST_SHA256`` and annotates the
    service with the model, the stage and the version, so the committed manifest says what it serves.
    """
    version = version_of(uri)
    out = copy.deepcopy(service)
    container = _container(out)
    check_image(container.get("image", ""))
    check_device(container)
    env = [e for e in container.get("env", []) if e.get("name") not in (STORAGE_ENV, DIGEST_ENV)]
    container["env"] = [
        {"name": STORAGE_ENV, "value": uri},
        {"name": DIGEST_ENV, "value": manifest_sha256},
        *env,
    ]
    out["metadata"].setdefault("annotations", {}).update(
        {
            f"{ANNOTATION}/model": check_name(name),
            f"{ANNOTATION}/stage": check_stage(stage),
            f"{ANNOTATION}/version": version,
        }
    )
    return out
