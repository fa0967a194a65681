"""The compiled GPU data generation pipeline: GenPairs' phases in order, one model per GPU task; shard
tasks fan out with GPUs, retries and the S3 Secret; paste's one accessory task before its CPU
shards; the optional paste and VQA branches; versioned images; no secret values."""

from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from compclip.cli import main
from compclip.images import content_tag, image

REPO = Path(__file__).resolve().parents[2]
GPU = ("exec-genpairs-captions", "exec-genpairs-images", "exec-paint-accessories", "exec-vqa-predict")
CPU = ("exec-shard-plan", "exec-genpairs-pairs", "exec-paste-shard", "exec-genpairs-merge",
       "exec-paste-merge", "exec-vqa-analyze")  # fmt: skip


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("spec") / "genpairs.yaml"
    argv = ["pipeline", "compile", "--pipeline", "genpairs", "--out", str(out)]
    argv += ["--params", str(REPO / "params.yaml")]
    assert main([*argv, "--param", "genpairs.select.per_stratum=7", "--param", "n_shards=3"]) == 0
    text = out.read_text()
    docs = list(yaml.safe_load_all(text))
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    platform = json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    k8s = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"]["executors"]
    return spec, executors, k8s, text


def _tasks(spec):
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
    return {task.component_ref.name: task for dag in dags for task in dag.tasks.values()}


def test_each_generator_fans_out_over_the_shard_plan_then_merges(compiled):
    spec, executors, _, _ = compiled
    assert set(executors) == {*GPU, *CPU}
    tasks = _tasks(spec)
    loops = [t for t in tasks.values() if t.HasField("parameter_iterator")]
    assert len(loops) == 3
    iterated = {t.parameter_iterator.items.input_parameter for t in loops}
    assert iterated == {"pipelinechannel--shard-plan-Output"}
    # retries outside the loops only: the backend ignores a retry policy inside a ParallelFor
    for name in ("comp-genpairs-captions", "comp-paint-accessories"):
        assert tasks[name].retry_policy.max_retry_count >= 1, name
    for name in ("comp-genpairs-images", "comp-paste-shard", "comp-vqa-predict"):
        assert not tasks[name].retry_policy.max_retry_count, name
    # the phases in order: pairs, then captions, then the image shards; paste shards after its cache
    assert tasks["comp-genpairs-captions"].dependent_tasks == ["genpairs-pairs"]
    images = tasks["comp-genpairs-images"].inputs.artifacts["captions"].component_input_artifact
    cache = tasks["comp-paste-shard"].inputs.artifacts["cache"].component_input_artifact
    assert images.endswith("genpairs-captions-captions") and cache.endswith("paint-accessories-cache")
    conditions = {t.trigger_policy.condition for t in tasks.values() if t.trigger_policy.condition}
    assert any("paste_images" in c for c in conditions) and any("vqa_questions" in c for c in conditions)
    inputs = spec.root.input_definitions.parameters
    assert json_format.MessageToDict(inputs["genpairs"].default_value)["select"]["per_stratum"] == 7
    assert inputs["n_shards"].default_value.number_value == 3


def test_shard_tasks_ask_for_gpus_on_selected_tolerated_nodes_and_merges_do_not(compiled):
    _, executors, k8s, _ = compiled
    for name in GPU:
        resources = executors[name]["container"]["resources"]
        assert resources["accelerator"] == {
            "resourceType": "{{$.inputs.parameters['pipelinechannel--accelerator']}}",
            "resourceCount": "{{$.inputs.parameters['pipelinechannel--gpus']}}",
        }, name
        selector = k8s[name]["nodeSelector"]["nodeSelectorJson"]["componentInputParameter"]
        assert selector.endswith("gpu_node_selector")
        (tolerations,) = k8s[name]["tolerations"]
        assert tolerations["tolerationJson"]["componentInputParameter"].endswith("gpu_tolerations")
    for name in CPU:
        assert "accelerator" not in executors[name]["container"]["resources"], name
        assert "nodeSelector" not in k8s[name], name


def test_images_are_versioned_and_credentials_come_from_the_secret(compiled):
    spec, executors, k8s, text = compiled
    images = {name: e["container"]["image"] for name, e in executors.items()}
    tag = content_tag(REPO)
    assert images.pop("exec-shard-plan") == images.pop("exec-genpairs-pairs") == image("core", tag=tag)
    for name, ref in images.items():  # the model tasks on GPUs, the others on CPUs
        assert ref == image("gen", tag=tag, accelerator="cuda" if name in GPU else "cpu"), name
    assert set(k8s) == set(executors)
    for config in k8s.values():
        (secret,) = config["secretAsEnv"]
        assert secret["secretName"] == "compclip-s3"  # fixed at compile time: older backends need it
        assert {e["envVar"] for e in secret["keyToEnv"]} == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert "compclip-secret" not in text and "SECRET_ACCESS_KEY:" not in text
    assert "pmi_table" in spec.root.input_definitions.parameters


def test_a_run_without_the_pmi_table_fails_with_one_line(tmp_path, capsys):
    argv = ["pipeline", "run", "--pipeline", "genpairs", "--root", str(tmp_path / "kfp")]
    assert main([*argv, "--params", str(REPO / "params.yaml")]) == 2
    assert "give the pipeline parameter pmi_table" in capsys.readouterr().err
    assert not (tmp_path / "kfp").exists()


def test_a_generator_run_has_no_lineage_to_push(tmp_path, capsys):
    argv = ["pipeline", "run", "--pipeline", "genpairs", "--push", "--root", str(tmp_path / "kfp")]
    assert main([*argv, "--params", str(REPO / "params.yaml"), "--param", "pmi_table=pmi"]) == 2
    assert "the genpairs pipeline has none" in capsys.readouterr().err and not (tmp_path / "kfp").exists()
