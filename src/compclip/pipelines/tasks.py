"""What every task of compclip's pipelines is given, in one place: the resources of its image family,
S3 credentials from a Kubernetes Secret (never a parameter), a display name, and for GPU tasks the
accelerators, node selector and tolerations the run asks for."""

from dataclasses import dataclass
from typing import Any

from kfp import dsl, kubernetes

# S3 credentials every task reads from a Kubernetes Secret (k8s/base/s3-credentials.yaml; its name
# is fixed at compile time, `--s3-secret`), and the endpoint from the ConfigMap of the same name
# (k8s/base/s3-endpoint.yaml, key AWS_ENDPOINT_URL). Neither is optional: KFP backends before 2.15
# refuse kfp-kubernetes' `optional` field.
S3_SECRET = "compclip-s3"
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
S3_ENDPOINT = "AWS_ENDPOINT_URL"
# CPU request and limit, memory request and limit per image family.
# gen: an 8B LLM or FLUX.1-dev (about 33 GB in bf16) loaded through host memory
RESOURCES = {
    "core": ("1", "2", "2Gi", "4Gi"),
    "train": ("4", "8", "16Gi", "32Gi"),
    "gen": ("4", "8", "48Gi", "64Gi"),
}
# Retries of a task that resumes from its work folder (checkpoints, finished chunks: on S3 under the
# run's `work_root`) or redoes its work whole (a task's output is written only on success, so a retry
# never counts twice). Set only on tasks outside dsl.ParallelFor: KFP's backend ignores a retry policy
# inside a loop (kubeflow/pipelines#12389), where a failed iteration is run again by retrying the run
# (docs/storage.md, "Retries").
RETRIES = 2


def configure(task: dsl.PipelineTask, family: str, name: str, secret: str) -> dsl.PipelineTask:
    """Resources of the image ``family``, S3 credentials from the Secret ``secret``, a display name."""
    cpu, cpu_limit, memory, memory_limit = RESOURCES[family]
    task.set_cpu_request(cpu).set_cpu_limit(cpu_limit)
    task.set_memory_request(memory).set_memory_limit(memory_limit)
    task.set_display_name(name)
    kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env={k: k for k in S3_KEYS})
    kubernetes.use_config_map_as_env(task, secret, {S3_ENDPOINT: S3_ENDPOINT})
    return task


@dataclass(frozen=True)
class Accelerators:
    """A run's GPU request, each field a pipeline parameter; ``enabled=False`` leaves out the type and
    count, whose parameters kfp's local runner cannot resolve inside loops and conditions."""

    enabled: bool
    type: Any
    count: Any
    node_selector: Any
    tolerations: Any

    def request(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        if self.enabled:
            task.set_accelerator_type(self.type).set_accelerator_limit(self.count)
        kubernetes.add_node_selector_json(task, self.node_selector)
        kubernetes.add_toleration_json(task, self.tolerations)
        return task
