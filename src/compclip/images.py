"""The one place that names compclip's container images and what each installs.

Four families, one per kind of stage: ``core`` (PMI, world, evaluation sets, rule negatives; no
torch), ``train`` (pretrain, train, evaluate), ``gen`` (LLM negatives, image generation) and
``serve`` (the inspection service). Every image carries kfp (extra ``pipeline``): the Kubeflow
components run in it as lightweight components. A torch family is built for ``cpu`` or ``cuda``;
its reference is ``REPOSITORY/compclip-FAMILY:TAG`` (cpu) or ``...:TAG-cuda``. The tag is
``VERSION-DIGEST`` (``content_tag``): the package version and a digest of everything an image is
built from, so it changes with the code and a cluster never runs old code under a known tag.
Never ``latest``. ``make push`` records each pushed image's digest (``record_digest``), which
``compclip pipeline compile --digests`` pins (``Images``).

``python -m compclip.images`` is the Makefile's door: ``tag`` prints the content tag, ``ref`` a
reference, ``extras`` the pip extras of a family, ``lock`` turns pip's installation report into
the exact list an image installs (``--no-deps``), keeping only what the constraints files pin and
leaving out what the family's tasks never import (``LEFT_OUT``), ``record`` a pushed digest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import dataclass, field
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
# What an image is built from, relative to the repository: a change to any file under these changes
# the content tag (the NLTK data is pinned by compclip.nltkdata, which is under src/compclip; the
# README is compclip's wheel's description).
BUILT_FROM = (
    "pyproject.toml",
    "README.md",
    "constraints.txt",
    "constraints-cuda.txt",
    "docker",
    "src/compclip",
)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def image(
    family: str, registry: str = DEFAULT_REGISTRY, tag: str = __version__, accelerator: str = "cpu"
) -> str:
    """The image reference of ``family``, e.g. ``localhost/compclip/compclip-core:0.1.0``."""
    return f"{registry.rstrip('/')}/compclip-{family}:{check_tag(tag)}{_suffix(family, accelerator)}"


def _suffix(family: str, accelerator: str) -> str:
    if family not in FAMILIES:
        raise UserError(f"unknown image family {family!r}; known: {', '.join(FAMILIES)}")
    if accelerator not in ACCELERATORS:
        raise UserError(f"unknown accelerator {accelerator!r}; known: {', '.join(ACCELERATORS)}")
    if accelerator == "cuda" and family == "core":
        raise UserError("the core image has no torch, so no cuda variant")
    return "-cuda" if accelerator == "cuda" else ""


def variant(family: str, accelerator: str = "cpu") -> str:
    """The key of one built image in a digests file: ``train``, ``train-cuda``."""
    return family + _suffix(family, accelerator)


def content_tag(root: Path) -> str:
    """``VERSION-DIGEST``: the first 12 hex digits of a sha256 over every file an image is built from
    (``BUILT_FROM`` under the repository ``root``, by relative path; bytecode left out)."""
    total = hashlib.sha256()
    for name in BUILT_FROM:
        top = root / name
        if not top.exists():
            raise UserError(f"{top} is missing: image tags are computed from a compclip checkout")
        files = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                total.update(f"{path.relative_to(root).as_posix()}\0".encode())
                total.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{__version__}-{total.hexdigest()[:12]}"


def check_tag(tag: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag) or tag == "latest":
        raise UserError(f"image tag {tag!r}: give a version or content tag (never 'latest')")
    return tag


@dataclass(frozen=True)
class Images:
    """Where a pipeline's images come from: ``repository`` and ``tag``, or, when ``digests``
    (variant -> ``sha256:...``, as ``make push`` records them) is given, each image by its digest
    alone (``REPO/compclip-train@sha256:...``): a tag beside a digest is refused by CRI-O's and
    skopeo's image library (containers/image), and a digest names one build anyway."""

    repository: str = DEFAULT_REGISTRY
    tag: str = __version__
    digests: dict[str, str] = field(default_factory=dict)

    def ref(self, family: str, accelerator: str = "cpu") -> str:
        name = image(family, self.repository, self.tag, accelerator)
        if not self.digests:
            return name
        key = variant(family, accelerator)
        if key not in self.digests:
            pushed = ", ".join(sorted(self.digests)) or "none"
            hint = " ACCELERATOR=cuda" if accelerator == "cuda" else ""
            raise UserError(f"no digest of {name} (pushed: {pushed}); run `make push{hint}` first")
        return f"{self.repository.rstrip('/')}/compclip-{family}@{self.digests[key]}"


def read_digests(path: Path) -> Images:
    """The images a digests file (``make push``) names: its repository, tag and each variant's digest."""
    if not path.is_file():
        raise UserError(f"no such digests file: {path} (`make push REGISTRY=...` writes it)")
    try:
        found = json.loads(path.read_text())
        images = Images(found["repository"], found["tag"], dict(found["digests"]))
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a digests file (repository, tag, digests): {err}") from err
    for key, digest in images.digests.items():
        if not DIGEST.fullmatch(digest):
            raise UserError(f"{path}: {key} has no sha256 digest ({digest!r})")
    return images


def record_digest(path: Path, repository: str, tag: str, key: str, digest: str) -> dict:
    """Add one pushed image's ``digest`` to the digests file at ``path``; a file of another repository
    or tag is started afresh (its digests name other images). Returns what was written."""
    digest = digest.strip()
    if not DIGEST.fullmatch(digest):
        raise UserError(f"{key}: {digest!r} is not a sha256 digest")
    known = read_digests(path) if path.is_file() else None
    same = known is not None and (known.repository, known.tag) == (repository, tag)
    digests = {**(known.digests if same else {}), key: digest}
    content = {"repository": repository, "tag": tag, "digests": dict(sorted(digests.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")
    return content


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
    tag = sub.add_parser("tag", help="print the content tag of the checkout at ROOT")
    tag.add_argument("root", type=Path, nargs="?", default=Path("."))
    ref = sub.add_parser("ref", help="print an image reference")
    ref.add_argument("family", choices=FAMILIES)
    ref.add_argument("--registry", default=DEFAULT_REGISTRY)
    ref.add_argument("--tag", default=__version__)
    ref.add_argument("--accelerator", choices=ACCELERATORS, default="cpu")
    rec = sub.add_parser("record", help="add a pushed image's digest to a digests file")
    rec.add_argument("digests", type=Path, help="the digests file (JSON), e.g. out/images/digests.json")
    rec.add_argument("family", choices=FAMILIES)
    rec.add_argument("--registry", required=True)
    rec.add_argument("--tag", required=True)
    rec.add_argument("--accelerator", choices=ACCELERATORS, default="cpu")
    rec.add_argument("--digestfile", type=Path, required=True, help="the digest `podman push` wrote")
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
    if args.command == "tag":
        print(content_tag(args.root))
    elif args.command == "ref":
        print(image(args.family, args.registry, args.tag, args.accelerator))
    elif args.command == "record":
        key = variant(args.family, args.accelerator)
        record_digest(args.digests, args.registry, args.tag, key, args.digestfile.read_text())
        print(f"{image(args.family, args.registry, args.tag, args.accelerator)}: digest in {args.digests}")
    elif args.command == "extras":
        print(",".join(EXTRAS[args.family]))
    else:
        dropped = read_pins(args.drop) if args.drop else {}
        report = json.loads(args.report.read_text())
        pins = {name: pin for path in args.constraints for name, pin in read_pins(path).items()}
        print("\n".join(lock(report, pins, dropped, LEFT_OUT.get(args.family, frozenset()))))


if __name__ == "__main__":
    main()
