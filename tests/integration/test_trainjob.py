"""Fine-tuning on a Kubeflow Trainer TrainJob, against a loopback server speaking the Kubernetes API."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client

from compclip.config import from_dict
from compclip.errors import UserError
from compclip.train.data import DataConfig
from compclip.train.loop import TrainConfig
from compclip.train.trainjob import TrainJobConfig, fine_tune

pytestmark = pytest.mark.integration
JOBS = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/kubeflow/trainjobs"
POD = "job-node-0-0-x1"
LOG = ["step 1 loss 2.8\n", "step 2 loss 2.6\n", "wrote s3://b/models/degla\n"]


class FakeKubernetes(BaseHTTPRequestHandler):
    """TrainJob create and get, node 0's pod list and log; the job ends after three polls."""

    def log_message(self, *args):
        pass

    def _send(self, body: dict | str, status: int = 200) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.calls.append(("POST", self.path, body))
        self._send(body, 201)

    def do_GET(self):
        url = urlsplit(self.path)
        self.server.calls.append(("GET", self.path, None))
        server = self.server
        if url.path.startswith(f"{JOBS}/"):
            server.polls += 1
            job = {"metadata": {"name": url.path.rsplit("/", 1)[1]}, "status": {}}
            if server.polls >= 3:
                done = {"type": server.ending, "status": "True", "message": server.message}
                job["status"]["conditions"] = [{"type": "Created", "status": "True"}, done]
            self._send(job)
        elif url.path == "/api/v1/namespaces/kubeflow/pods":
            server.selectors.append(parse_qs(url.query)["labelSelector"][0])
            self._send({"kind": "PodList", "apiVersion": "v1", "items": [{"metadata": {"name": POD}}]})
        elif url.path == f"/api/v1/namespaces/kubeflow/pods/{POD}/log":
            self._send("".join(LOG[: server.polls]))
        else:
            self._send({"message": f"no {url.path}"}, 404)


@pytest.fixture
def kube():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKubernetes)
    server.calls, server.selectors, server.polls, server.ending, server.message = [], [], 0, "Complete", ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api = client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}"))
    yield server, api
    server.shutdown()


TRAIN = TrainConfig(data=DataConfig(batch_size=8))
WHERE = TrainJobConfig(nodes=2, gpus=2, image="registry/compclip-train:1", namespace="kubeflow",
                       s3_secret="s3-creds", poll_seconds=0.01)  # fmt: skip


def tune(api, log, config=WHERE, out="minio://b/models/degla"):
    return fine_tune(
        "s3://b/models/base", "s3://b/finetune", "s3://b/neg/negatives.json", out, TRAIN, config, api, log
    )


def test_submits_a_torch_trainjob_of_m_nodes_and_follows_it_to_the_end(kube):
    server, api = kube
    log = io.StringIO()
    state = tune(api, log)
    assert state["status"]["conditions"][-1]["type"] == "Complete"
    posted = [body for method, path, body in server.calls if method == "POST"]
    assert [path for method, path, _ in server.calls if method == "POST"] == [JOBS]
    job = posted[0]
    assert job["apiVersion"] == "trainer.kubeflow.org/v1alpha1" and job["kind"] == "TrainJob"
    assert job["spec"]["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": "torch-distributed",
    }
    trainer = job["spec"]["trainer"]
    assert trainer["numNodes"] == 2 and trainer["resourcesPerNode"] == {"limits": {"nvidia.com/gpu": 2}}
    assert trainer["image"] == "registry/compclip-train:1"
    assert trainer["command"][:5] == ["python", "-m", "compclip.train.launch", "--processes", "2"]
    spec = json.loads(trainer["command"][5])
    assert spec["stage"] == "train" and spec["batch_size"] == 8
    assert spec["inputs"] == {
        "model": "s3://b/models/base", "data": "s3://b/finetune", "negatives": "s3://b/neg/negatives.json",
        "out": "s3://b/models/degla", "work_dir": "s3://b/models/degla.checkpoints",
    }  # fmt: skip
    assert from_dict(TrainConfig, spec["config"]) == TRAIN
    secrets = {e["name"]: e["valueFrom"] for e in trainer["env"]}
    assert secrets["AWS_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "s3-creds", "key": "AWS_SECRET_ACCESS_KEY"}
    }
    assert server.selectors[0] == (
        f"jobset.sigs.k8s.io/jobset-name={job['metadata']['name']},jobset.sigs.k8s.io/replicatedjob-name=node,"
        "batch.kubernetes.io/job-completion-index=0"
    )
    lines = log.getvalue().splitlines()
    assert lines[0] == f"TrainJob kubeflow/{job['metadata']['name']}: 2 nodes, runtime torch-distributed"
    assert lines[1:] == [f"[{POD}] {line.strip()}" for line in LOG]  # each log line once


def test_a_failed_trainjob_is_one_line_with_its_reason(kube):
    server, api = kube
    server.ending, server.message = "Failed", "jobset failed: node 1 exited with code 137 after 3 restarts"
    with pytest.raises(
        UserError, match=r"^TrainJob kubeflow/compclip-train-\w+ failed: jobset failed: node 1 exited"
    ):
        tune(api, io.StringIO())


def test_bad_requests_are_refused_before_anything_is_submitted(kube):
    server, api = kube
    with pytest.raises(
        UserError, match=r"batch_size 8 \(the global batch\) does not split over 12 processes"
    ):
        tune(api, io.StringIO(), TrainJobConfig(nodes=3, gpus=4, image="i", namespace="kubeflow"))
    with pytest.raises(UserError, match="/tmp/model: a TrainJob's nodes read and write S3 only"):
        tune(api, io.StringIO(), out="/tmp/model")
    assert server.calls == []
