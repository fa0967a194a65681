"""The one place that names compclip's container images and what each installs.

Four families, one per kind of stage: ``core`` (PMI, world, evaluation sets, rule negatives; no
torch), ``train`` (pretrain, train, evaluate), ``gen`` (LLM negatives, image generation) and
``serve`` (the inspection service). Every image carries kfp (extra ``pipeline``): the Kubeflow
components run in it as lightweight components. A torch family is built for ``cpu`` or ``cuda``;
its reference is ``REGISTRY/compclip-FAMILY:VERSION`` (cpu) or ``...:VERSION-cuda``. Tags derive
from the package version, never ``latest``.

``python -m compclip.images`` is the Makefile's door: ``ref`` prints a reference, ``extras`` the
pip extras of a family, ``lock`` turns pip's installation report into the exact list an image
installs (``--no-deps``), keeping only what the constraints files pin and leaving out what the
family's tasks never import (``LEFT_OUT``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from compclip import __version__
from compclip.errors import UserError

FAMILIES = ("core", "train", "gen", "serve")
EXTRAS = {
    "core": ("pipeline",),
    "train": ("pipeline", "train"),
    "gen": ("pipeline", "gen"),
    "serve": ("pipeline", "serve"),
}
# What a Kubeflow task never imports: kfp's requirements for its client and compiler (a task runs
# `_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main`, and with _KFP_RUNTIME set kfp imports none of
# them), kfp-kubernetes and the Kubernetes client (compile time and `compclip deploy`), and what only
# these require. The core image leaves them out (73 MB; its test runs components through kfp's
# executor in it); the torch families keep them, torch being their size.
KFP_CLIENT = frozenset(
    {
        "cffi",
        "charset-normalizer",
        "click-option-group",
        "cryptography",
        "docstring-parser",
        "google-api-core",
        "google-auth",
        "google-cloud-core",
        "google-cloud-storage",
        "google-crc32c",
        "google-resumable-media",
        "googleapis-common-protos",
        "kfp-kubernetes",
        "kfp-pipeline-spec",
        "kfp-server-api",
        "kubernetes",
        "oauthlib",
        "opentelemetry-api",
        "proto-plus",
        "protobuf",
        "pyasn1",
        "pyasn1-modules",
        "pycparser",
        "requests",
        "requests-oauthlib",
        "requests-toolbelt",
        "tabulate",
        "websocket-client",
    }
)
LEFT_OUT = {"core": KFP_CLIENT}
ACCELERATORS = ("cpu", "cuda")
DEFAULT_REGISTRY = "localhost/compclip"


def image(
    family: str, registry: str = DEFAULT_REGISTRY, tag: str = __version__, accelerator: str = "cpu"
) -> str:
    """The image reference of ``family``, e.g. ``localhost/compclip/compclip-core:0.1.0``."""
    if family not in FAMILIES:
        raise UserError(f"unknown image family {family!r}; known: {', '.join(FAMILIES)}")
    if not tag or tag == "latest":
        raise UserError("an image tag must name a version, never 'latest'")
    if accelerator not in ACCELERATORS:
        raise UserError(f"unknown accelerator {accelerator!r}; known: {', '.join(ACCELERATORS)}")
    if accelerator == "cuda" and family == "core":
        raise UserError("the core image has no torch, so no cuda variant")
    suffix = "-cuda" if accelerator == "cuda" else ""
    return f"{registry.rstrip('/')}/compclip-{family}:{tag}{suffix}"


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Open_Clip.torch`` -> ``open-clip-torch``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """The ``name==version`` lines of a constraints file, by canonical name."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise UserError(f"{path}: {line!r} is not an exact pin (name==version)")
        pins[canonical(name)] = version.strip()
    return pins


def requirement_names(item: dict, with_extras: bool = False) -> set[str]:
    """The canonical names a report item requires; those behind an ``extra`` marker only ``with_extras``."""
    return {
        canonical(re.match(r"[A-Za-z0-9._-]+", req)[0])
        for req in item["metadata"].get("requires_dist", [])
        if with_extras or "extra ==" not in req
    }


def check_left_out(report: dict, left_out: frozenset[str], project: str) -> None:
    """Refuse a ``left_out`` set that is stale, cuts what a kept package needs, or leaves an orphan.

    Only kfp (whose run time imports none of them) and ``project`` (its ``pipeline`` extra) may
    require a left-out package; a kept one that nothing kept requires belongs in the set.
    """
    items = {canonical(item["metadata"]["name"]): item for item in report["install"]}
    if stale := sorted(left_out - items.keys()):
        raise UserError(f"left out but not resolved: {', '.join(stale)}; update compclip.images.LEFT_OUT")
    kept = items.keys() - left_out
    for name in sorted(kept - {"kfp", project}):
        if cut := requirement_names(items[name]) & left_out:
            raise UserError(f"{name} requires {', '.join(sorted(cut))}, which the image leaves out")
    required = set().union(*(requirement_names(items[name], with_extras=True) for name in kept))
    if orphans := sorted(kept - required - {project}):
        names = ", ".join(orphans)
        raise UserError(f"only left-out packages require {names}; add to compclip.images.LEFT_OUT")


def lock(
    report: dict,
    pins: dict[str, str],
    dropped: dict[str, str],
    left_out: frozenset[str] = frozenset(),
    project: str = "compclip",
) -> list[str]:
    """The exact ``name==version`` lines an image installs, from pip's ``--report`` of a resolution.

    A resolved package pinned in ``pins`` is kept at its pin; one pinned in ``dropped`` (what only
    the other variant carries, e.g. triton in a CPU image) is left out, as is one in ``left_out``
    (the family's ``LEFT_OUT``, checked by ``check_left_out``); anything else means the constraints
    are stale. ``project`` itself is installed from its own wheel, so it is left out.
    """
    if left_out:
        check_left_out(report, left_out, project)
    lines = []
    for item in report["install"]:
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        if name == project or name in left_out:
            continue
        pin = pins.get(name, dropped.get(name))
        if pin is None:
            raise UserError(f"{name} {version} is not pinned in the constraints: run `make constraints`")
        if pin != version:
            raise UserError(f"{name} resolved to {version}, but the constraints pin {pin}")
        if name in pins:
            lines.append(f"{name}=={version}")
    return sorted(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m compclip.images", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("ref", help="print an image reference")
    ref.add_argument("family", choices=FAMILIES)
    ref.add_argument("--registry", default=DEFAULT_REGISTRY)
    ref.add_argument("--accelerator", choices=ACCELERATORS, default="cpu")
    extras = sub.add_parser("extras", help="print a family's pip extras, comma-separated")
    extras.add_argument("family", choices=FAMILIES)
    locker = sub.add_parser("lock", help="print the exact requirements an image installs")
    locker.add_argument("--report", type=Path, required=True, help="pip install --dry-run --report JSON")
    locker.add_argument(
        "--constraints", type=Path, action="append", required=True, help="pins this image keeps (repeatable)"
    )
    locker.add_argument("--drop", type=Path, help="pins of the other variant, left out of this one")
    locker.add_argument("--family", choices=FAMILIES, help="leave out what this family never imports")
    args = parser.parse_args(argv)
    if args.command == "ref":
        print(image(args.family, args.registry, accelerator=args.accelerator))
    elif args.command == "extras":
        print(",".join(EXTRAS[args.family]))
    else:
        dropped = read_pins(args.drop) if args.drop else {}
        report = json.loads(args.report.read_text())
        pins = {name: pin for path in args.constraints for name, pin in read_pins(path).items()}
        print("\n".join(lock(report, pins, dropped, LEFT_OUT.get(args.family, frozenset()))))


if __name__ == "__main__":
    main()
