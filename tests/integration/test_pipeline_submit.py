"""`compclip pipeline submit` and `schedule` against a loopback server speaking the KFP v2beta1 API."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from compclip.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


class FakeKFP(BaseHTTPRequestHandler):
    """The few endpoints kfp.Client calls; every request is recorded on the server."""

    def log_message(self, *args):
        pass

    def _send(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body=None) -> str:
        path = self.path.split("?")[0]
        self.server.calls.append({"method": self.command, "path": path, "query": self.path, "body": body,
                                  "auth": self.headers.get("Authorization")})  # fmt: skip
        return path

    def do_GET(self):
        path = self._record()
        if path == "/apis/v2beta1/healthz":
            self._send({"commit_sha": "test", "tag_name": "2.5.0", "multi_user": False})
        elif path == "/apis/v2beta1/experiments":
            self._send({"experiments": self.server.experiments, "total_size": len(self.server.experiments)})
        else:
            self._send({"error": f"no {path}"}, 404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self._record(body)
        if path == "/apis/v2beta1/experiments":
            experiment = {**body, "experiment_id": f"exp-{len(self.server.experiments) + 1}"}
            self.server.experiments.append(experiment)
            self._send(experiment)
        elif path == "/apis/v2beta1/runs":
            self._send({**body, "run_id": "run-1", "state": "PENDING"})
        elif path == "/apis/v2beta1/recurringruns":
            self._send({**body, "recurring_run_id": "rec-1", "status": "ENABLED"})
        else:
            self._send({"error": f"no {path}"}, 404)


@pytest.fixture
def kfp_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKFP)
    server.calls, server.experiments = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _host(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _spec(body: dict) -> tuple[pipeline_spec_pb2.PipelineSpec, pipeline_spec_pb2.PlatformSpec]:
    document = body["pipeline_spec"]
    spec = document.get("pipeline_spec", document)
    platform = document.get("platform_spec")
    assert platform is not None, "the submitted spec lost its PlatformSpec (secrets, GPUs)"
    return (
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec()),
        json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec()),
    )


def _no_secret_values(calls) -> None:
    text = json.dumps([c["body"] for c in calls])
    assert "compclip-secret" not in text and 'AWS_SECRET_ACCESS_KEY": "' not in text


def test_submit_sends_the_spec_its_parameters_and_the_token(kfp_api, capsys, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "compclip-secret")
    argv = ["pipeline", "submit", "--host", _host(kfp_api), "--token", "t0ken", "--experiment", "nightly"]
    argv += ["--params", str(REPO / "params.yaml"), "--param", "world.n=500", "--param", "shards=8"]
    code = main([*argv, "--name", "first"])
    assert code == 0, capsys.readouterr().err
    assert "submitted run run-1" in capsys.readouterr().out
    created = [c for c in kfp_api.calls if c["method"] == "POST" and c["path"].endswith("/experiments")]
    assert [c["body"]["display_name"] for c in created] == ["nightly"]
    (run,) = [c for c in kfp_api.calls if c["path"] == "/apis/v2beta1/runs"]
    body = run["body"]
    assert body["display_name"] == "first" and body["experiment_id"] == "exp-1"
    assert run["auth"] == "Bearer t0ken"
    parameters = body["runtime_config"]["parameters"]
    assert parameters["shards"] == 8 and parameters["git_commit"]
    spec, platform = _spec(body)
    assert spec.pipeline_info.name == "compclip"
    world = json_format.MessageToDict(spec.root.input_definitions.parameters["world"].default_value)
    assert world["n"] == 500  # a SECTION.KEY override becomes the section's default
    assert "kubernetes" in platform.platforms
    _no_secret_values(kfp_api.calls)


def test_submit_sends_the_gpu_data_generation_pipeline_when_chosen(kfp_api, capsys):
    argv = ["pipeline", "submit", "--pipeline", "genpairs", "--host", _host(kfp_api)]
    argv += ["--params", str(REPO / "params.yaml"), "--param=pmi_table=s3://b/pmi", "--param=n_shards=8"]
    assert main(argv) == 0, capsys.readouterr().err
    (run,) = [c for c in kfp_api.calls if c["path"] == "/apis/v2beta1/runs"]
    body = run["body"]
    assert body["display_name"].startswith("compclip-gen-")
    assert body["runtime_config"]["parameters"] == {"pmi_table": "s3://b/pmi", "n_shards": 8}
    spec, platform = _spec(body)
    assert spec.pipeline_info.name == "compclip-gen" and "kubernetes" in platform.platforms
    _no_secret_values(kfp_api.calls)


def test_schedule_creates_a_recurring_run_on_the_cron(kfp_api, capsys):
    argv = ["pipeline", "schedule", "--host", _host(kfp_api), "--cron", "0 0 3 * * 0"]
    argv += ["--params", str(REPO / "params.yaml"), "--param", "methods=[degla]", "--name", "weekly"]
    code = main([*argv, "--service-account", "compclip-pipeline", "--no-cache"])
    assert code == 0, capsys.readouterr().err
    (job,) = [c for c in kfp_api.calls if c["path"] == "/apis/v2beta1/recurringruns"]
    body = job["body"]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 0"
    assert body["display_name"] == "weekly" and body["mode"] == "ENABLE" and body["no_catchup"] is True
    assert body["runtime_config"]["parameters"]["methods"] == ["degla"]
    assert body["service_account"] == "compclip-pipeline"
    spec, _ = _spec(body)
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
    cached = [name for dag in dags for name, task in dag.tasks.items() if task.caching_options.enable_cache]
    assert not cached  # inside loops and sub-pipelines too
    _no_secret_values(kfp_api.calls)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cron", "0 3 * * 0"], "has 5 fields"),
        (["--cron", "0 0 3 * * 0", "--param", "shards=lots"], "shards='lots'"),
        (["--cron", "0 0 3 * * 0", "--param", "pmi.min_cuont=3"], "unknown keys ['min_cuont']"),
    ],
)
def test_a_bad_schedule_fails_before_the_server_hears_of_it(kfp_api, capsys, extra, message):
    code = main(
        ["pipeline", "schedule", "--host", _host(kfp_api), "--params", str(REPO / "params.yaml"), *extra]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert kfp_api.calls == []


def test_an_unreachable_host_is_one_clear_error(capsys):
    code = main(["pipeline", "submit", "--host", "http://127.0.0.1:9", "--params", str(REPO / "params.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach Kubeflow Pipelines at http://127.0.0.1:9" in err
