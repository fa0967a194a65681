"""Shared fixtures: paths to ../shared data and a real S3 server (SeaweedFS) on loopback."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COMPCLIP_SHARED", REPO.parent / "shared"))
FLICKR = SHARED / "data" / "flickr8k" / "Flickr8k.token.txt"


FREE_AT_START: dict[str, float] = {}


def _free_gib() -> float:
    return shutil.disk_usage(tempfile.gettempdir()).free / 2**30


def pytest_sessionstart(session) -> None:
    FREE_AT_START["gib"] = _free_gib()


def pytest_terminal_summary(terminalreporter) -> None:
    """Free disk space before and after: the S3 server, the images and many tests write to disk."""
    temp = tempfile.gettempdir()
    terminalreporter.write_line(
        f"free disk space in {temp}: {FREE_AT_START['gib']:.1f} GiB at the start, {_free_gib():.1f} GiB now"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used the S3 server shows the end of the server's log (less the noise of
    its admin worker, which finds no admin server: the admin UI is off)."""
    report = yield
    server = getattr(item, "funcargs", {}).get("s3_server")
    if report.failed and server is not None:
        log = Path(server.dir) / "weed.log"
        lines = log.read_text(errors="replace").splitlines() if log.is_file() else ["(no log)"]
        lines = [line for line in lines if "worker" not in line.lower()][-40:]
        report.sections.append(("S3 server log (last 40 lines)", "\n".join(lines)))
    return report


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder missing: {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def flickr_captions() -> Path:
    return FLICKR


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A SeaweedFS ``weed mini`` on loopback for the whole session, its AWS settings exported."""
    from compclip import s3local

    server = s3local.start(tmp_path_factory.mktemp("s3"), bucket="compclip-test")
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    s3local.stop_pid(server.pid)


@pytest.fixture(scope="session")
def manifest_errors(shared):
    """``errors(obj) -> list[str]``: offline validation of one Kubernetes object, empty when valid.

    Built-in kinds: kubernetes-validate's strict schemas (Kubernetes 1.32). Custom resources: the
    openAPIV3Schema of their CRD in ../shared/k8s-crds, made strict like the API server's
    field validation (an unknown field is an error), with jsonschema.
    """
    import jsonschema
    import kubernetes_validate
    import yaml

    def strict(schema):
        if isinstance(schema, dict):
            schema = {k: strict(v) for k, v in schema.items()}
            open_ended = {"additionalProperties", "x-kubernetes-preserve-unknown-fields"} & schema.keys()
            if "properties" in schema and not open_ended:
                schema["additionalProperties"] = False
        elif isinstance(schema, list):
            schema = [strict(v) for v in schema]
        return schema

    custom = {}
    for path in sorted((shared / "k8s-crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                custom[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)

    def errors(obj: dict) -> list[str]:
        validator = custom.get((obj.get("apiVersion"), obj.get("kind")))
        if validator is not None:
            return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
        try:
            kubernetes_validate.validate(obj, "1.32.0", strict=True)
        except kubernetes_validate.ValidationError as err:
            return [str(err)]
        except kubernetes_validate.SchemaNotFoundError as err:
            return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')}: {err}"]
        return []

    return errors
