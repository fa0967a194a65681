"""`compclip deploy`: render from an alias published in a real S3 registry (SeaweedFS on loopback),
and apply to a fake Kubernetes API server on loopback that records what the client sends."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from compclip.cli import main
from compclip.deploy import storage_uri
from compclip.registry.aliases import move, read
from compclip.registry.store import Store

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OVERLAY = str(REPO / "k8s" / "overlays" / "production")


@pytest.fixture
def registry(s3_server, request):
    """A registry root whose `production` alias of a fresh model name points at v2."""
    root = f"s3://{s3_server.bucket}/deploy-{request.node.name.replace('_', '-')[:40]}"
    store = Store(root)
    move(store, "compclip", "production", "v1", "test", None)
    move(store, "compclip", "production", "v2", "test", read(store, "compclip", "production"))
    return root


def render_cli(registry: str, out: Path, *extra: str) -> int:
    args = ["deploy", "render", "--stage", "production", "--name", "compclip", "--root", registry]
    return main([*args, "--overlay", OVERLAY, "--out", str(out), *extra])


def test_render_writes_the_aliased_version(registry, tmp_path, manifest_errors, capsys):
    out = tmp_path / "release" / "inferenceservice.yaml"
    assert render_cli(registry, out) == 0
    text = out.read_text()
    assert text.startswith("# Rendered by `compclip deploy render`")
    (service,) = [d for d in yaml.safe_load_all(text) if d]
    assert storage_uri(service) == f"{registry}/registry/compclip/v2/"
    assert service["metadata"]["annotations"]["compclip.io/version"] == "v2"
    assert service["metadata"]["namespace"] == "compclip-production"
    assert manifest_errors(service) == []
    assert f"serving {registry}/registry/compclip/v2/" in capsys.readouterr().out


def test_render_without_the_alias_is_one_line(s3_server, tmp_path, capsys):
    code = render_cli(f"s3://{s3_server.bucket}/empty-registry", tmp_path / "x.yaml")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "no production version" in err and not (tmp_path / "x.yaml").exists()


def test_render_with_a_missing_overlay_is_one_line(registry, tmp_path, capsys):
    args = ["deploy", "render", "--stage", "production", "--name", "compclip", "--root", registry]
    code = main([*args, "--overlay", str(tmp_path), "--out", str(tmp_path / "x.yaml")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"compclip deploy: error: no kustomization.yaml in {tmp_path}"


def test_apply_without_a_cluster_is_one_line(tmp_path, monkeypatch, capsys, registry):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, out)
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


def test_apply_sends_the_rendered_service(fake_cluster, registry, tmp_path, capsys):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, out)
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


def test_apply_renders_from_the_alias_and_dry_runs(fake_cluster, registry, capsys):
    args = ["deploy", "apply", "--stage", "production", "--name", "compclip", "--root", registry]
    assert main([*args, "--overlay", OVERLAY, "--dry-run"]) == 0
    (sent,) = fake_cluster.requests
    assert sent["query"]["dryRun"] == ["All"]
    assert storage_uri(sent["body"]) == f"{registry}/registry/compclip/v2/"
    assert "checked (dry run)" in capsys.readouterr().out


def test_apply_refused_by_the_server_is_one_line(fake_cluster, registry, tmp_path, capsys):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, out)
    capsys.readouterr()
    fake_cluster.status = 422
    assert main(["deploy", "apply", "--file", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "compclip deploy: error: applying InferenceService/compclip: 422 Unprocessable Entity: "
        "admission webhook denied it"
    )


def test_apply_to_an_unreachable_cluster_is_one_line(fake_cluster, registry, tmp_path, monkeypatch, capsys):
    out = tmp_path / "isvc.yaml"
    render_cli(registry, out)
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
