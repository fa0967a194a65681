"""Every image a compiled pipeline names, asked of its registry as a cluster's node would pull it.

For each distinct executor image of the spec: is it pinned by digest, does the registry serve that
manifest (``skopeo inspect``), and what does a node pull for it (the layers' compressed sizes). Then
the layers the images share: what a node that runs every task pulls once. Exits non-zero when an
image is not pinned or its registry does not serve it.

Run (after `make push REGISTRY=...` and `compclip pipeline compile --digests out/images/digests.json`):
    .venv/bin/python bench/pullable_images.py pipeline.yaml [--tls-verify false]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml


def executor_images(spec_path: Path) -> dict[str, list[str]]:
    """image -> the executors that run in it, from the spec's first document (the PipelineSpec)."""
    spec = next(yaml.safe_load_all(spec_path.read_text()))
    found: dict[str, list[str]] = {}
    for name, executor in spec["deploymentSpec"]["executors"].items():
        found.setdefault(executor["container"]["image"], []).append(name)
    return found


def manifest(image: str, tls_verify: bool) -> dict:
    """The image's manifest as its registry serves it (``skopeo inspect --raw``)."""
    argv = ["skopeo", "inspect", "--raw", f"--tls-verify={str(tls_verify).lower()}", f"docker://{image}"]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", type=Path, help="a compiled pipeline (compclip pipeline compile --out)")
    parser.add_argument("--tls-verify", choices=("true", "false"), default="true")
    args = parser.parse_args()
    images = executor_images(args.spec)
    layers: dict[str, int] = {}  # every distinct layer's compressed size
    alone = 0  # the same, counted once per image
    failures = 0
    print(f"{'image':<90} {'tasks':>5} {'pull MB':>8}")
    for image, executors in sorted(images.items()):
        if "@sha256:" not in image:
            print(f"{image:<90} {len(executors):>5}  not pinned by digest")
            failures += 1
            continue
        try:
            found = manifest(image, args.tls_verify == "true")
        except RuntimeError as err:
            print(f"{image:<90} {len(executors):>5}  not served: {err}")
            failures += 1
            continue
        sizes = {layer["digest"]: layer["size"] for layer in found["layers"]}
        layers.update(sizes)
        alone += sum(sizes.values())
        print(f"{image:<90} {len(executors):>5} {sum(sizes.values()) / 1e6:>8.0f}")
    print(f"{len(images)} images for {sum(map(len, images.values()))} executors; not pullable: {failures}")
    if not failures:
        distinct = sum(layers.values()) / 1e6
        print(f"a node pulling every image: {distinct:.0f} MB of layers, {alone / 1e6:.0f} MB unshared")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
