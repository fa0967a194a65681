"""Fine-tuning as a Kubeflow Trainer TrainJob of M nodes x N GPUs, submitted and followed to its end.

Needs Kubeflow Trainer v2 (v2.0 or later: the ``TrainJob`` API of ``trainer.kubeflow.org/v1alpha1``)
with a torch ``ClusterTrainingRuntime`` (default ``torch-distributed``, one of the Trainer's
default runtimes), whose nodes get torch's ``PET_*`` variables; every node runs
``python -m compclip.train.launch --processes N JOB`` in the train image (:mod:`compclip.train.launch`).
The kubeflow SDK is not needed: the TrainJob is a plain custom object created with the kubernetes
client. Inputs, output and checkpoints are s3:// URIs every node reaches (credentials from the
pipeline's S3 Secret); the job always resumes, so when the Trainer restarts it after a node died
(the runtime's JobSet ``failurePolicy.maxRestarts``) it continues from the last checkpoint.
:func:`follow` prints node 0's log as it grows and raises a one-line error when the job fails.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from compclip.errors import UserError

if TYPE_CHECKING:
    from compclip.train.loop import TrainConfig

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
NODE = "node"  # the runtime's replicated job (and container) of the training nodes
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
S3_ENDPOINT = "AWS_ENDPOINT_URL"
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")  # the pod's namespace


@dataclass(frozen=True)
class TrainJobConfig:
    """Where and how big: ``nodes`` x ``gpus`` (per node; 0: CPU nodes, one process each)."""

    nodes: int
    gpus: int
    image: str
    namespace: str
    runtime: str = "torch-distributed"
    s3_secret: str | None = None  # Secret with S3_KEYS (and optionally a ConfigMap with S3_ENDPOINT)
    poll_seconds: float = 10.0


def s3_uri(uri: str) -> str:
    """An artifact URI as the nodes read it: ``minio://`` (KFP on MinIO) is S3; local paths are refused."""
    from compclip.storage import s3_form

    if not s3_form(uri).startswith("s3://"):
        raise UserError(f"{uri}: a TrainJob's nodes read and write S3 only; give an s3:// URI")
    return s3_form(uri)


def trainjob(name: str, spec: dict, config: TrainJobConfig) -> dict:
    """The TrainJob that runs the :func:`compclip.train.launch.job` ``spec`` on every node."""
    if config.nodes < 1:
        raise UserError(f"a TrainJob needs at least one node, not {config.nodes}")
    processes = max(1, config.gpus)
    env: list[dict[str, Any]] = []
    if config.s3_secret:
        env += [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": config.s3_secret, "key": k}}} for k in S3_KEYS
        ]
        ref = {"name": config.s3_secret, "key": S3_ENDPOINT, "optional": True}
        env.append({"name": S3_ENDPOINT, "valueFrom": {"configMapKeyRef": ref}})
    trainer: dict[str, Any] = {
        "image": config.image,
        "command": ["python", "-m", "compclip.train.launch", "--processes", str(processes), json.dumps(spec)],
        "numNodes": config.nodes,
        "env": env,
    }
    if config.gpus:
        trainer["resourcesPerNode"] = {"limits": {"nvidia.com/gpu": config.gpus}}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": config.namespace,
            "labels": {"app.kubernetes.io/part-of": "compclip"},
        },
        "spec": {
            "runtimeRef": {"apiGroup": GROUP, "kind": "ClusterTrainingRuntime", "name": config.runtime},
            "trainer": trainer,
        },
    }


def outcome(job: dict) -> dict | None:
    """The job's ``Complete`` or ``Failed`` condition once it has one."""
    for condition in job.get("status", {}).get("conditions", []):
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition
    return None


def fine_tune(
    model: str,
    data: str,
    negatives: str | None,
    out: str,
    train_config: TrainConfig,
    config: TrainJobConfig,
    api_client: Any = None,
    log: IO[str] = sys.stdout,
) -> dict:
    """``compclip train`` on a TrainJob: the artifacts' S3 URIs in, the model published at ``out``
    (s3://) with its checkpoints beside it; returns the job's final state. ``api_client`` defaults
    to the pod's in-cluster configuration."""
    from compclip.train.launch import job
    from compclip.train.run import check_processes, default_work_dir

    check_processes(train_config.data.batch_size, config.nodes * max(1, config.gpus))
    out = s3_uri(out)
    inputs = {"model": s3_uri(model), "data": s3_uri(data), "out": out}
    inputs |= {"negatives": s3_uri(negatives) if negatives else None, "work_dir": default_work_dir(out)}
    spec = job("train", inputs, train_config, train_config.data.batch_size)
    if api_client is None:
        from kubernetes import client
        from kubernetes import config as kube_config

        kube_config.load_incluster_config()
        api_client = client.ApiClient()
    name = f"compclip-train-{uuid.uuid4().hex[:10]}"
    return follow(api_client, trainjob(name, spec, config), config.poll_seconds, log)


def follow(api_client: Any, body: dict, poll_seconds: float = 10.0, out: IO[str] = sys.stdout) -> dict:
    """Create the TrainJob ``body``, print node 0's log as it grows, return its final state;
    a failed job is one :class:`UserError` line."""
    from kubernetes import client

    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    print(f"TrainJob {namespace}/{name}: {body['spec']['trainer']['numNodes']} nodes, runtime "
          f"{body['spec']['runtimeRef']['name']}", file=out)  # fmt: skip
    printed: dict[str, int] = {}
    while True:
        state = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        _print_logs(core, namespace, name, printed, out)
        done = outcome(state)
        if done is not None:
            break
        time.sleep(poll_seconds)
    if done["type"] == "Failed":
        why = done.get("message") or done.get("reason") or "no reason given"
        raise UserError(f"TrainJob {namespace}/{name} failed: {why}")
    return state


def _print_logs(core: Any, namespace: str, name: str, printed: dict[str, int], out: IO[str]) -> None:
    """What node 0's pods (a restarted node is a new pod) logged since the last call."""
    from kubernetes.client.exceptions import ApiException

    selector = f"jobset.sigs.k8s.io/jobset-name={name},jobset.sigs.k8s.io/replicatedjob-name={NODE}"
    pods = core.list_namespaced_pod(
        namespace, label_selector=f"{selector},batch.kubernetes.io/job-completion-index=0"
    )
    for pod in sorted(pods.items, key=lambda p: p.metadata.name):
        try:
            text = core.read_namespaced_pod_log(pod.metadata.name, namespace, container=NODE)
        except ApiException:  # not started yet
            continue
        seen = printed.get(pod.metadata.name, 0)
        complete = text[seen : text.rfind("\n") + 1]  # whole lines only; the rest next time
        for line in complete.splitlines():
            out.write(f"[{pod.metadata.name}] {line}\n")
        printed[pod.metadata.name] = seen + len(complete)


def pipeline_train(
    base: str,
    data: str,
    negatives: str,
    method: str,
    params: dict,
    staging: str,
    model_dir: str,
    nodes: int,
    gpus: int,
    s3_secret: str,
) -> None:
    """The pipeline's train task as a TrainJob of this pod's namespace in the train image: the
    model is published at ``staging`` (s3://), then copied into the task's ``model_dir``, which KFP
    publishes as it does a one-node run's."""
    import dataclasses
    import shutil

    from compclip.config import from_dict
    from compclip.images import image
    from compclip.storage import local_dir
    from compclip.train.loop import TrainConfig

    namespace = NAMESPACE_FILE.read_text().strip()
    train_config = dataclasses.replace(from_dict(TrainConfig, params, "train"), method=method)
    where = TrainJobConfig(
        nodes=nodes, gpus=gpus, image=image("train"), namespace=namespace, s3_secret=s3_secret
    )
    fine_tune(base, data, negatives, staging, train_config, where)
    with local_dir(s3_uri(staging)) as folder:
        shutil.copytree(folder, model_dir, dirs_exist_ok=True)
