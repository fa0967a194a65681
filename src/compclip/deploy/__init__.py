"""Deploy the inspection service: the InferenceService of the version a registry alias points to.

:func:`render` (pure) fills an overlay's InferenceService with a version; :func:`build` renders a
kustomize overlay; :func:`apply` sends an InferenceService to a cluster. See ``docs/deploy.md``.
"""

from compclip.deploy.cluster import apply, connect
from compclip.deploy.kustomize import build
from compclip.deploy.service import find_service, render, storage_uri

__all__ = ["apply", "build", "connect", "find_service", "render", "storage_uri"]
