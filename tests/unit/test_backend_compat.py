"""The compiled pipelines run on the oldest Kubeflow Pipelines backend compclip supports: every
executor's Kubernetes config parses against that release's kfp-kubernetes schema."""

from pathlib import Path

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from compclip.cli import main
from compclip.pipelines.cluster import OLDEST_BACKEND

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests" / "data" / f"kfp-backend-{OLDEST_BACKEND}"


def _files(descriptor, seen: dict) -> None:
    """``descriptor`` (a FileDescriptor) and what it imports, dependencies first, into ``seen``."""
    for dependency in descriptor.dependencies:
        _files(dependency, seen)
    if descriptor.name not in seen:
        seen[descriptor.name] = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(seen[descriptor.name])


@pytest.fixture(scope="module")
def oldest_config(tmp_path_factory):
    """The backend's KubernetesExecutorConfig message class, compiled from its .proto (it imports
    pipeline_spec.proto, taken from the installed kfp-pipeline-spec)."""
    from grpc_tools import protoc
    from kfp.pipeline_spec import pipeline_spec_pb2

    tmp = tmp_path_factory.mktemp("protos")
    imported: dict = {}
    _files(pipeline_spec_pb2.DESCRIPTOR, imported)
    (tmp / "imports.pb").write_bytes(
        descriptor_pb2.FileDescriptorSet(file=imported.values()).SerializeToString()
    )
    argv = ["protoc", f"--proto_path={SCHEMA}", f"--descriptor_set_in={tmp / 'imports.pb'}"]
    assert (
        protoc.main([*argv, f"--descriptor_set_out={tmp / 'k8s.pb'}", "kubernetes_executor_config.proto"])
        == 0
    )
    pool = descriptor_pool.DescriptorPool()
    for proto in [
        *imported.values(),
        *descriptor_pb2.FileDescriptorSet.FromString((tmp / "k8s.pb").read_bytes()).file,
    ]:
        pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("kfp_kubernetes.KubernetesExecutorConfig")
    )


def _executor_configs(tmp_path, *flags: str) -> dict:
    out = tmp_path / "pipeline.yaml"
    argv = ["pipeline", "compile", "--out", str(out), "--params", str(REPO / "params.yaml"), *flags]
    argv += ["--image-pull-secret", "regcred", "--hf-token-secret", "hf-token"]
    assert main(argv) == 0
    _, platform = yaml.safe_load_all(out.read_text())
    return platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


@pytest.mark.parametrize("pipeline", ["compclip", "genpairs"])
def test_every_executor_config_parses_against_the_oldest_backends_schema(oldest_config, tmp_path, pipeline):
    configs = _executor_configs(tmp_path, "--pipeline", pipeline)
    assert configs
    for name, config in configs.items():
        json_format.ParseDict(config, oldest_config())  # raises on a field that backend does not know
        assert config["imagePullPolicy"] and config["imagePullSecret"], name


def test_a_field_only_newer_backends_know_fails_to_parse(oldest_config):
    newer = {
        "secretAsEnv": [
            {"secretName": "s", "keyToEnv": [{"secretKey": "k", "envVar": "K"}], "optional": True}
        ]
    }
    with pytest.raises(json_format.ParseError, match="optional"):
        json_format.ParseDict(newer, oldest_config())
