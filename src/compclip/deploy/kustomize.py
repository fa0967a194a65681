"""Render a kustomize overlay into its objects with ``kubectl kustomize`` (the edge: a subprocess)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from compclip.errors import UserError

MESSAGE = 400  # characters of kubectl's error kept in the one-line message


def build(overlay: str) -> list[dict]:
    """The objects ``kubectl kustomize OVERLAY`` renders, in order."""
    if not Path(overlay, "kustomization.yaml").is_file():
        raise UserError(f"no kustomization.yaml in {overlay}")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise UserError("kubectl not found on PATH; it renders the overlays (kubectl 1.27+, kustomize v5)")
    done = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[-MESSAGE:] or f"exit status {done.returncode}"
        raise UserError(f"kubectl kustomize {overlay} failed: {message}")
    return [o for o in yaml.safe_load_all(done.stdout) if o]
