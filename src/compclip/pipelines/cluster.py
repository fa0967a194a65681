"""What a cluster needs of a built pipeline, set on every task in one pass: the image of its family
from the cluster's registry (the CUDA variant where the task asks for a GPU), the pull policy, the
registry's pull Secret, and the hub token Secret of the tasks that load hub models (the gen image).

The components name their family's image (``compclip-FAMILY``, from ``compclip.images``); ``apply``
rewrites each executor's reference to ``Cluster.images`` and adds to its Kubernetes config only
fields that KFP backends from ``OLDEST_BACKEND`` on accept (a test parses every executor config
against that release's kfp-kubernetes protos).
"""

import re
from dataclasses import dataclass, field

from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
from kfp.pipeline_spec import pipeline_spec_pb2

from compclip.errors import UserError
from compclip.images import Images

# The oldest Kubeflow Pipelines backend the compiled spec runs on (README, "Kubeflow Pipelines versions").
OLDEST_BACKEND = "2.14.0"
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
# The environment variable huggingface_hub reads a token from (gated models: FLUX.1-dev, Llama-3.1).
HF_TOKEN = "HF_TOKEN"
FAMILY = re.compile(r"/compclip-([a-z]+):")


@dataclass(frozen=True)
class Cluster:
    """``images``: where the images come from; ``pull_policy``: every task's imagePullPolicy (a
    content tag or digest names one build, so IfNotPresent never runs stale code);
    ``pull_secret``: a Secret of type dockerconfigjson for a private registry (empty: none);
    ``hf_token_secret``: a Secret whose key HF_TOKEN the gen tasks get as HF_TOKEN (empty: none)."""

    images: Images = field(default_factory=Images)
    pull_policy: str = "IfNotPresent"
    pull_secret: str = ""
    hf_token_secret: str = ""

    def __post_init__(self):
        if self.pull_policy not in PULL_POLICIES:
            raise UserError(f"image pull policy {self.pull_policy!r}: one of {', '.join(PULL_POLICIES)}")


def apply(pipeline, cluster: Cluster) -> None:
    """Set ``cluster``'s images and Kubernetes settings on every executor of ``pipeline`` (built by
    ``@dsl.pipeline``), in place."""
    executors = pipeline.pipeline_spec.deployment_spec.fields["executors"].struct_value.fields
    platform = pipeline.platform_spec.platforms["kubernetes"].deployment_spec.executors
    for name in sorted(executors):
        container = executors[name].struct_value.fields["container"].struct_value.fields
        found = FAMILY.search(container["image"].string_value)
        if not found:
            raise UserError(f"{name} runs {container['image'].string_value}, not a compclip image")
        family = found[1]
        resources = container["resources"].struct_value.fields if "resources" in container else {}
        accelerator = "cuda" if "accelerator" in resources else "cpu"
        container["image"].string_value = cluster.images.ref(family, accelerator)
        config = json_format.ParseDict(
            json_format.MessageToDict(platform[name]), k8s.KubernetesExecutorConfig()
        )
        for entry in [*config.secret_as_env, *config.config_map_as_env]:
            if entry.HasField("optional") and not entry.optional:
                entry.ClearField(
                    "optional"
                )  # kfp-kubernetes writes the default; backends before 2.15 refuse it
        config.image_pull_policy = cluster.pull_policy
        if cluster.pull_secret:
            config.image_pull_secret.append(k8s.ImagePullSecret(**_named(cluster.pull_secret)))
        if cluster.hf_token_secret and family == "gen":
            key = k8s.SecretAsEnv.SecretKeyToEnvMap(secret_key=HF_TOKEN, env_var=HF_TOKEN)
            config.secret_as_env.append(k8s.SecretAsEnv(key_to_env=[key], **_named(cluster.hf_token_secret)))
        platform[name].Clear()
        platform[name].update(json_format.MessageToDict(config))


def _named(secret: str) -> dict:
    """A Secret's name in both fields, as kfp-kubernetes writes a constant name (older backends read
    ``secret_name``, newer ones ``secret_name_parameter``)."""
    parameter = pipeline_spec_pb2.TaskInputsSpec.InputParameterSpec()
    parameter.runtime_value.constant.string_value = secret
    return {"secret_name": secret, "secret_name_parameter": parameter}


def disable_caching(pipeline) -> None:
    """Turn caching off for every task of ``pipeline``, inside loops, conditions and sub-pipelines too
    (kfp.Client's ``enable_caching`` reaches only the tasks of the outermost DAG)."""
    spec = pipeline.pipeline_spec
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
    for dag in dags:
        for task in dag.tasks.values():
            task.caching_options.enable_cache = False
