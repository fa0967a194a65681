"""The small pipeline run twice, every task a subprocess and every task in its own image (podman),
each timed; every output's files compared by their sha256 in the two runs' lineage manifests, and
a JSON file that differs compared key by key, where a timing or a path under the run's own folder
is expected to differ.

Run (`make run-containers`, which builds the images first):
    .venv/bin/python bench/containers_run.py --out out/containers [--runners R ...] [--param NAME=VALUE ...]
``--runners`` runs only those (the other's last run under ``--out`` is compared; none: compare the
last runs). Exits non-zero when a run fails or an output differs in anything but timings and the
run's own paths.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COMPCLIP = str(Path(sys.executable).parent / "compclip")


RUNNERS = ("subprocess", "containers")


def run(runner: str, root: Path, params: list[str]) -> None:
    """One uncached run by ``runner`` under ``root``, timed."""
    argv = [COMPCLIP, "pipeline", "run", "--runner", runner, "--root", str(root), "--no-cache"]
    start = time.perf_counter()
    subprocess.run([*argv, *(a for p in params for a in ("--param", p))], check=True)
    seconds = time.perf_counter() - start
    print(f"{runner:>10}: {seconds:7.1f} s", flush=True)


def last_manifest(root: Path) -> dict:
    """The lineage manifest of the last run under ``root``."""
    found = sorted(root.glob("*/lineage-record*/lineage/lineage.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit(f"no run under {root}: run this script with --runners {root.name}")
    return json.loads(found[-1].read_text())


def differences(a: dict, b: dict) -> list[str]:
    """``output/file`` for every file whose hash differs or that only one run has."""
    found = []
    for name in sorted(a["outputs"].keys() | b["outputs"].keys()):
        files_a = a["outputs"].get(name, {}).get("files", {})
        files_b = b["outputs"].get(name, {}).get("files", {})
        found += [
            f"{name}/{f}" for f in sorted(files_a.keys() | files_b.keys()) if files_a.get(f) != files_b.get(f)
        ]
    return found


def flat(value, path: str = "") -> dict[str, object]:
    """A JSON value as ``{".key.key[0]": leaf}``."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{path}[{i}]").items()}
    return {path: value}


def is_timing(path: str) -> bool:
    """A wall-clock measurement (``seconds``, ``seconds_per_step``, ``captions_per_s``)."""
    key = path.rsplit(".", 1)[-1]
    return key == "seconds" or key.startswith("seconds_") or key.endswith("_per_s")


def normalized(manifest: dict, output: str, file: str) -> dict[str, object] | None:
    """A JSON file of ``output`` flattened, its run's folder named ``RUN``; None if not JSON."""
    path = Path(manifest["outputs"].get(output, {}).get("uri", "")) / file
    if path.suffix != ".json" or not path.is_file():
        return None
    any_output = next(iter(manifest["outputs"].values()))
    run = str(Path(any_output["uri"]).parents[1])  # ROOT/RUN/TASK/OUTPUT
    values = flat(json.loads(path.read_text()))
    return {k: v.replace(run, "RUN") if isinstance(v, str) else v for k, v in values.items()}


def unexplained(a: dict, b: dict, differing: list[str]) -> dict[str, list[str]]:
    """For each differing ``output/file``, the JSON keys that differ other than a timing, a path under
    the run's own folder or, in a manifest, the hash of a file whose own differences are explained;
    ``["not JSON"]`` for any other file."""
    explained: set[str] = set()
    found: dict[str, list[str]] = {}
    for item in sorted(differing, key=lambda f: f.endswith("manifest.json")):  # manifests last
        output, file = item.split("/", 1)
        one, other = normalized(a, output, file), normalized(b, output, file)
        if one is None or other is None:
            found[item] = ["not JSON"]
            continue
        keys = [
            key for key in sorted(one.keys() | other.keys())
            if one.get(key) != other.get(key) and not is_timing(key)
            and f"{output}/{key.removeprefix('.files.')}" not in explained
        ]  # fmt: skip
        if keys:
            found[item] = keys
        else:
            explained.add(item)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a folder for both runs' pipeline roots")
    parser.add_argument("--runners", nargs="*", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument("--param", action="append", default=[], help="as `compclip pipeline run --param`")
    args = parser.parse_args()
    for runner in args.runners:
        run(runner, args.out.resolve() / runner, args.param)
    manifests = {runner: last_manifest(args.out.resolve() / runner) for runner in RUNNERS}
    files = sum(len(o["files"]) for o in manifests["subprocess"]["outputs"].values())
    differ = differences(manifests["subprocess"], manifests["containers"])
    left = unexplained(manifests["subprocess"], manifests["containers"], differ)
    outputs = len(manifests["subprocess"]["outputs"])
    print(f"outputs: {outputs}, files: {files}, byte-identical: {files - len(differ)}")
    print(f"differing only in timings and the run's own paths: {len(differ) - len(left)}")
    print("\n".join(f"  {d}" for d in differ if d not in left))
    print(f"differing otherwise: {len(left)}")
    print("\n".join(f"  {d}: {', '.join(keys)}" for d, keys in left.items()))
    sys.exit(1 if left else 0)


if __name__ == "__main__":
    main()
