"""The one place that names compclip's container images: ``REGISTRY/compclip-FAMILY:VERSION``.

Four families, one per kind of stage: ``core`` (PMI, world, evaluation sets, rule negatives; no
torch), ``train`` (pretrain, train, evaluate), ``gen`` (LLM negatives, image generation) and
``serve`` (the inspection service). Tags derive from the package version, never ``latest``.
"""

from __future__ import annotations

from compclip import __version__
from compclip.errors import UserError

FAMILIES = ("core", "train", "gen", "serve")
DEFAULT_REGISTRY = "localhost/compclip"


def image(family: str, registry: str = DEFAULT_REGISTRY, tag: str = __version__) -> str:
    """The image reference of ``family``, e.g. ``localhost/compclip/compclip-core:0.1.0``."""
    if family not in FAMILIES:
        raise UserError(f"unknown image family {family!r}; known: {', '.join(FAMILIES)}")
    if not tag or tag == "latest":
        raise UserError("an image tag must name a version, never 'latest'")
    return f"{registry.rstrip('/')}/compclip-{family}:{tag}"
