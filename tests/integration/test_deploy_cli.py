"""`compclip deploy`: render from an alias published in a real S3 registry (SeaweedFS on loopback),
and apply to a fake Kubernetes API server on loopback that records what the client sends."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import yaml

from compclip.cli import main
from compclip.deploy import storage_uri
from compclip.registry import audit
from compclip.registry.aliases import move, read
from compclip.registry.store import Store, json_body

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "k8s" / "overlays" / "production"
IMAGE = "registry.example.com/compclip/compclip-serve@sha256:" + "1f" * 32


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> str:
    """The production overlay as a release sets it: the image pinned by the digest `make push` printed."""
    folder = tmp_path_factory.mktemp("release")
    repository, digest = IMAGE.split("@")
    image = {"name": repository, "digest": digest}
    kustomization = {"resources": [os.path.relpath(PRODUCTION, folder)], "images": [image]}
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return str(folder)


def version(store: Store, number: int) -> str:
    """A complete version (a lineage and a manifest, as publishing leaves them); its manifest digest."""
    prefix = f"registry/compclip/v{number}/"
    store.create(prefix + "lineage.json", json_body({"version": f"v{number}"}))
    body = json_body({"files": {"lineage.json": "0" * 64}, "registry": {"version": f"v{number}"}})
    store.create(prefix + "manifest.json", body)
    return hashlib.sha256(body).hexdigest()


def promote(store: Store, number: int) -> None:
    held = read(store, "compclip", "production")
    event = audit.new_event("compclip", "promote", f"v{number}", stage="production")
    move(store, "compclip", "production", f"v{number}", version(store, number), event, held)


@pytest.fixture
def registry(s3_server, request):
    """A registry root whose `production` alias of a fresh model name points at v2."""
    root = f"s3://{s3_server.bucket}/deploy-{request.node.name.replace('_', '-')[:40]}"
    store = Store(root)
    promote(store, 1)
    promote(store, 2)
    return root


def render_cli(registry: str, overlay: str, out: Path) -> int:
    args = ["deploy", "render", "--stage", "production", "--name", "compclip", "--root", registry]
    return main([*args, "--overlay", overlay, "--out", str(out)])


def test_render_writes_the_aliased_version(release, registry, tmp_path, manifest_errors, capsys):
    out = tmp_path / "release" / "inferenceservice.yaml"
    assert render_cli(registry, release, out) == 0
    text = out.read_text()
    assert text.startswith("# Rendered by `compclip deploy render`")
    (service,) = [d for d in yaml.safe_load_all(text) if d]
    assert storage_uri(service) == f"{registry}/registry/compclip/v2/"
    (container,) = service["spec"]["predictor"]["containers"]
    digest = read(Store(registry), "compclip", "production")[0].manifest_sha256
    assert {"name": "COMPCLIP_MANIFEST_SHA256", "value": digest} in container["env"]
    assert container["image"] == IMAGE and container["args"][-2:] == ["--device", "cuda"]
    assert service["metadata"]["annotations"]["compclip.io/version"] == "v2"
    assert service["metadata"]["namespace"] == "compclip-production"
    assert manifest_errors(service) == []
    assert f"serving {registry}/registry/compclip/v2/" in capsys.readouterr().out


def test_render_without_the_alias_is_one_line(release, s3_server, tmp_path, capsys):
    code = render_cli(f"s3://{s3_server.bucket}/empty-registry", release, tmp_path / "x.yaml")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "no production version" in err and not (tmp_path / "x.yaml").exists()


def test_render_refuses_an_alias_written_behind_the_registry(release, registry, tmp_path, capsys):
    store = Store(registry)
    alias = json.loads(store.get("aliases/compclip/production.json")[0])
    evil = json_body({**alias, "uri": "s3://evil/registry/compclip/v2/"})
    boto3.client("s3").put_object(
        Bucket=store.bucket, Key=f"{store.prefix}/aliases/compclip/production.json", Body=evil
    )
    out = tmp_path / "x.yaml"
    assert render_cli(registry, release, out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "s3://evil" in err and "refusing it" in err and not out.exists()


def test_render_refuses_the_overlays_placeholder_digest(registry, tmp_path, capsys):
    args = ["deploy", "render", "--stage", "production", "--name", "compclip", "--root", registry]
    assert main([*args, "--overlay", str(PRODUCTION), "--out", str(tmp_path / "x.yaml")]) == 2
    assert "placeholder digest" in capsys.readouterr().err


def test_render_with_a_missing_overlay_is_one_line(registry, tmp_path, capsys):
    args = ["deploy", "render", "--stage", "production", "--name", "compclip", "--root", registry]
    code = main([*args, "--overlay", str(tmp_path), "--out", str(tmp_path / "x.yaml")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"compclip deploy: error: no kustomization.yaml in {tmp_path}"


def test_apply_without_a_cluster_is_one_line(release, tmp_path, monkeypatch, capsys, registry):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, release, out)
    capsys.readouterr()
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["deploy", "apply", "--file", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("compclip deploy: error: no Kubernetes cluster configured")


class FakeKubernetes(BaseHTTPRequestHandler):
    """Answers server-side apply PATCHes like an API server; records each request."""

    requests: ClassVar[list[dict]] = []
    status = 200

    def do_PATCH(self):
        url = urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(
            {
                "path": url.path,
                "query": parse_qs(url.query),
                "content_type": self.headers["Content-Type"],
                "authorization": self.headers["Authorization"],
                "body": body,
            }
        )
        if self.status == 200:
            answer = {**body, "metadata": {**body["metadata"], "generation": 4}}
        else:
            answer = {"kind": "Status", "status": "Failure", "message": "admission webhook denied it"}
        data = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_cluster(tmp_path, monkeypatch):
    FakeKubernetes.requests, FakeKubernetes.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKubernetes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "fake", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        "current-context": "fake",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield FakeKubernetes
    server.shutdown()
    server.server_close()


def test_apply_sends_the_rendered_service(release, fake_cluster, registry, tmp_path, capsys):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, release, out)
    (service,) = [d for d in yaml.safe_load_all(out.read_text()) if d]
    assert main(["deploy", "apply", "--file", str(out)]) == 0
    (sent,) = fake_cluster.requests
    assert sent["path"] == (
        "/apis/serving.kserve.io/v1beta1/namespaces/compclip-production/inferenceservices/compclip"
    )
    assert sent["content_type"] == "application/apply-patch+yaml"
    assert sent["query"] == {"fieldManager": ["compclip"], "force": ["true"]}
    assert sent["authorization"] == "Bearer t0ken"
    assert sent["body"] == service
    assert "applied (generation 4)" in capsys.readouterr().out


def test_apply_renders_from_the_alias_and_dry_runs(release, fake_cluster, registry, capsys):
    args = ["deploy", "apply", "--stage", "production", "--name", "compclip", "--root", registry]
    assert main([*args, "--overlay", release, "--dry-run"]) == 0
    (sent,) = fake_cluster.requests
    assert sent["query"]["dryRun"] == ["All"]
    assert storage_uri(sent["body"]) == f"{registry}/registry/compclip/v2/"
    assert "checked (dry run)" in capsys.readouterr().out


def test_apply_refused_by_the_server_is_one_line(release, fake_cluster, registry, tmp_path, capsys):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, release, out)
    capsys.readouterr()
    fake_cluster.status = 422
    assert main(["deploy", "apply", "--file", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "compclip deploy: error: applying InferenceService/compclip: 422 Unprocessable Entity: "
        "admission webhook denied it"
    )


def test_apply_to_an_unreachable_cluster_is_one_line(
    release, fake_cluster, registry, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, release, out)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kubeconfig = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    (tmp_path / "gone").write_text(yaml.safe_dump(kubeconfig))
    capsys.readouterr()
    assert main(["deploy", "apply", "--file", str(out), "--kubeconfig", str(tmp_path / "gone")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"compclip deploy: error: cannot reach the cluster at http://127.0.0.1:{port}")
    assert len(err.splitlines()) == 1 and not fake_cluster.requests


def test_apply_needs_a_file_or_an_alias(capsys):
    assert main(["deploy", "apply", "--stage", "production"]) == 2
    assert "give --file, or --stage, --name and --root" in capsys.readouterr().err
