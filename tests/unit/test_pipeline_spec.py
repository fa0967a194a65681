"""The compiled pipeline: a PipelineSpec + PlatformSpec, every stage wired, and in step with dvc.yaml."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from compclip.cli import main
from compclip.errors import UserError
from compclip.images import content_tag, image, record_digest
from compclip.methods import METHODS
from compclip.pipelines.compclip_pipeline import SECTIONS, STAGES
from compclip.pipelines.params import apply, check_arguments
from compclip.pipelines.remote import validate_cron
from compclip.pipelines.tasks import S3_SECRET

REPO = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[pipeline_spec_pb2.PipelineSpec, pipeline_spec_pb2.PlatformSpec, str]:
    out = tmp_path_factory.mktemp("spec") / "pipeline.yaml"
    assert main(["pipeline", "compile", "--out", str(out), "--params", str(REPO / "params.yaml")]) == 0
    text = out.read_text()
    docs = list(yaml.safe_load_all(text))
    assert len(docs) == 2
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    platform = json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
    return spec, platform, text


def _executors(spec):
    return json_format.MessageToDict(spec.deployment_spec)["executors"]


def _loop_body(spec, loop) -> list[str]:
    """The components of the tasks a ParallelFor task runs, nested sub-DAGs included."""
    names, todo = [], [loop.component_ref.name]
    while todo:
        for task in spec.components[todo.pop()].dag.tasks.values():
            names.append(task.component_ref.name)
            if spec.components[task.component_ref.name].HasField("dag"):
                todo.append(task.component_ref.name)
    return names


def _all_tasks(spec):
    dags = [spec.root.dag, *(c.dag for c in spec.components.values() if c.HasField("dag"))]
    return [task for dag in dags for task in dag.tasks.values()]


def test_every_stage_runs_in_its_familys_image_tagged_with_the_code_cuda_where_it_asks_for_a_gpu(compiled):
    spec, platform, _ = compiled
    tag = content_tag(REPO)
    kubernetes = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"]["executors"]
    on_gpu = set()  # (image, asks for a GPU): a CPU task on a CUDA image would be a pair too many
    for name, executor in _executors(spec).items():
        container = executor["container"]
        on_gpu.add((container["image"], "accelerator" in container["resources"]))
        assert kubernetes[name]["imagePullPolicy"] == "IfNotPresent", name
    assert on_gpu == {
        (image("core", tag=tag), False),
        (image("train", tag=tag), False),  # compare
        (image("train", tag=tag, accelerator="cuda"), True),
        (image("gen", tag=tag, accelerator="cuda"), True),
    }


def test_digests_pin_every_image_in_the_given_repository_with_the_cluster_secrets(tmp_path):
    repository = "registry.example.com/ml"
    digests = tmp_path / "digests.json"
    for n, key in enumerate(("core", "train", "train-cuda", "gen-cuda")):
        record_digest(digests, repository, "0.1.0-abc", key, f"sha256:{n:064x}")
    out = tmp_path / "pipeline.yaml"
    argv = ["pipeline", "compile", "--out", str(out), "--params", str(REPO / "params.yaml")]
    argv += ["--image-repository", repository, "--digests", str(digests), "--image-pull-secret", "regcred"]
    assert main([*argv, "--hf-token-secret", "hf", "--s3-secret", "team-s3"]) == 0
    spec, platform = yaml.safe_load_all(out.read_text())
    executors = spec["deploymentSpec"]["executors"]
    kubernetes = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    pinned = {e["container"]["image"] for e in executors.values()}
    assert pinned == {  # by digest alone: containers/image (CRI-O, skopeo) refuses a tag beside it
        f"{repository}/compclip-core@sha256:{0:064x}",
        f"{repository}/compclip-train@sha256:{1:064x}",
        f"{repository}/compclip-train@sha256:{2:064x}",
        f"{repository}/compclip-gen@sha256:{3:064x}",
    }
    recorded = json.loads(digests.read_text())["digests"]
    for executor in executors.values():  # the CUDA variant exactly where a task asks for a GPU
        container = executor["container"]
        family, digest = re.fullmatch(r".*/compclip-([a-z]+)@(sha256:[0-9a-f]+)", container["image"]).groups()
        gpu = "accelerator" in container.get("resources", {})
        assert digest == recorded[f"{family}-cuda" if gpu else family]
    for name, config in kubernetes.items():
        assert [s["secretName"] for s in config["imagePullSecret"]] == ["regcred"]
        secrets = {s["secretName"]: {e["envVar"] for e in s["keyToEnv"]} for s in config["secretAsEnv"]}
        gen = "compclip-gen" in executors[name]["container"]["image"]
        assert secrets == {
            "team-s3": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
            **({"hf": {"HF_TOKEN"}} if gen else {}),
        }
        assert config["configMapAsEnv"][0]["configMapName"] == "team-s3"


def test_an_image_tag_names_every_image_in_the_given_repository_cuda_where_a_task_asks_for_a_gpu(tmp_path):
    out = tmp_path / "pipeline.yaml"
    argv = ["pipeline", "compile", "--out", str(out), "--params", str(REPO / "params.yaml")]
    assert main([*argv, "--image-repository", "registry.example.com/ml/", "--image-tag", "0.2.0-def"]) == 0
    spec, _ = yaml.safe_load_all(out.read_text())
    containers = [executor["container"] for executor in spec["deploymentSpec"]["executors"].values()]
    repository = "registry.example.com/ml"
    assert {(c["image"], "accelerator" in c.get("resources", {})) for c in containers} == {
        (f"{repository}/compclip-core:0.2.0-def", False),
        (f"{repository}/compclip-train:0.2.0-def", False),
        (f"{repository}/compclip-train:0.2.0-def-cuda", True),
        (f"{repository}/compclip-gen:0.2.0-def-cuda", True),
    }


def test_a_digests_file_without_an_image_the_pipeline_needs_names_the_push_to_run(tmp_path, capsys):
    digests = tmp_path / "digests.json"
    record_digest(digests, "reg.example/ml", "t1", "core", f"sha256:{0:064x}")
    argv = ["pipeline", "compile", "--out", str(tmp_path / "p.yaml"), "--params", str(REPO / "params.yaml")]
    assert main([*argv, "--digests", str(digests)]) == 2
    assert "make push" in capsys.readouterr().err and not (tmp_path / "p.yaml").exists()


def test_the_flow_has_every_stage_and_both_pmi_rounds_fan_out(compiled):
    spec, _, _ = compiled
    components = {t.component_ref.name for t in _all_tasks(spec)}
    for stage in ("world-corpus", "finetune-data", "pmi-plan", "pmi-scan", "pmi-merge-vocab", "pmi-pairs",
                  "pmi-merge-table", "evalsets-build", "negatives-generator", "negatives-shard",
                  "negatives-merge", "pretrain", "base-model", "train", "evaluate", "compare",
                  "lineage-record", "publish"):  # fmt: skip
        assert any(c.startswith(f"comp-{stage}") for c in components), stage
    loops = [
        t.parameter_iterator.items.input_parameter
        for t in _all_tasks(spec)
        if t.HasField("parameter_iterator")
    ]
    # both PMI rounds over the plan's parts (the pairs round reads no scan's output), and the methods
    assert loops.count("pipelinechannel--pmi-plan-Output") == 2 and "pipelinechannel--methods" in loops
    (pairs,) = [t for t in _all_tasks(spec) if t.component_ref.name == "comp-pmi-pairs"]
    assert "pmi-plan-Output-loop-item" in pairs.inputs.parameters["part"].component_input_parameter
    # retries where the backend honours them: on tasks outside loops that resume (or redo their work
    # whole); a retry policy inside a ParallelFor is ignored by the backend, so none is set there
    retried = {t.component_ref.name: t.retry_policy.max_retry_count for t in _all_tasks(spec)}
    assert all(retried[f"comp-{name}"] >= 1 for name in ("pretrain", "negatives-generate"))
    in_loops = {n for t in _all_tasks(spec) if t.HasField("parameter_iterator") for n in _loop_body(spec, t)}
    assert {"comp-pmi-scan", "comp-pmi-pairs", "comp-train"} <= in_loops
    assert not [n for n in in_loops if retried.get(n)]
    stages = [t for t in _all_tasks(spec) if spec.components[t.component_ref.name].HasField("executor_label")]
    uncached = {t.component_ref.name for t in stages if not t.caching_options.enable_cache}
    # a run's own record and publication: each run has its own id and makes a new registry version
    assert {n.rsplit("-", 1)[0] if n[-1].isdigit() else n for n in uncached} == {
        "comp-lineage-record",
        "comp-publish",
    }


def test_gpu_stages_ask_for_accelerators_and_every_task_has_resources(compiled):
    spec, platform, _ = compiled
    executors = _executors(spec)
    for name, executor in executors.items():
        resources = executor["container"]["resources"]
        assert {"cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"} <= set(resources), name
    for stage in ("exec-pretrain", "exec-train", "exec-evaluate"):
        accelerator = executors[stage]["container"]["resources"]["accelerator"]
        assert accelerator["resourceType"] or accelerator.get("resourceTypeParameter"), stage
        kubernetes = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"][
            "executors"
        ]
        assert "nodeSelector" in kubernetes[stage] and "tolerations" in kubernetes[stage]


def test_the_negatives_generator_picks_a_rules_task_on_core_or_llm_shards_on_gpus_then_a_merge(compiled):
    spec, platform, _ = compiled
    executors = _executors(spec)
    kubernetes = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"]["executors"]
    # one pair of branches under each base-model branch (pretrained, given)
    rules = [n for n in executors if n.startswith("exec-negatives-generate")]
    shards = [n for n in executors if n.startswith("exec-negatives-shard")]
    merges = [n for n in executors if n.startswith("exec-negatives-merge")]
    assert len(rules) == len(shards) == len(merges) == 2
    for name in (*rules, *merges):
        assert executors[name]["container"]["image"] == image("core", tag=content_tag(REPO))
        assert "accelerator" not in executors[name]["container"]["resources"]
        assert "nodeSelector" not in kubernetes[name]
    for name in shards:
        assert executors[name]["container"]["image"] == image(
            "gen", tag=content_tag(REPO), accelerator="cuda"
        )
        assert executors[name]["container"]["resources"]["accelerator"]["resourceCount"].endswith("gpus']}}")
        assert "nodeSelector" in kubernetes[name] and "tolerations" in kubernetes[name]
    # the shards are a ParallelFor over the shard plan of `negatives_shards` (no retry policy: the
    # backend ignores one in a loop; a shard resumes from its work folder under work_root instead),
    # whose collected outputs the merge reads
    for name, component in spec.components.items():
        if not name.startswith("comp-llm-negatives"):
            continue
        tasks = component.dag.tasks
        assert tasks["shard-plan"].inputs.parameters["shards"].component_input_parameter == "shards"
        (loop,) = [t for t in tasks.values() if t.HasField("parameter_iterator")]
        assert loop.parameter_iterator.items.input_parameter == "pipelinechannel--shard-plan-Output"
        (shard,) = spec.components[loop.component_ref.name].dag.tasks.values()
        assert shard.component_ref.name.startswith("comp-negatives-shard")
        assert not shard.retry_policy.max_retry_count
        assert shard.inputs.parameters["work_root"].component_input_parameter == "pipelinechannel--work_root"
        assert tasks["negatives-merge"].dependent_tasks == [loop.task_info.name]
    assert "negatives_shards" in spec.root.input_definitions.parameters
    branches = {"llm": 0, "rules": 0}
    for task in _all_tasks(spec):
        condition = task.trigger_policy.condition
        if "negatives-generator-Output" not in condition:
            continue
        inner = {t.component_ref.name for t in spec.components[task.component_ref.name].dag.tasks.values()}
        made = {n.removeprefix("comp-").rstrip("-0123456789") for n in inner if "negatives" in n}
        kind = "rules" if condition.startswith("!(") else "llm"
        assert "== 'llm'" in condition
        assert made == {"llm-negatives" if kind == "llm" else "negatives-generate"}, condition
        branches[kind] += 1
    assert branches == {"llm": 2, "rules": 2}


def test_s3_credentials_come_from_a_secret_never_from_the_spec(compiled):
    spec, platform, text = compiled
    kubernetes = json_format.MessageToDict(platform.platforms["kubernetes"])["deploymentSpec"]["executors"]
    assert set(kubernetes) == set(_executors(spec))
    for config in kubernetes.values():
        envs = {e["envVar"] for s in config["secretAsEnv"] for e in s["keyToEnv"]}
        assert envs == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        (endpoint,) = config["configMapAsEnv"]
        assert (
            endpoint["configMapName"] == "compclip-s3"
            and endpoint["keyToEnv"][0]["envVar"] == "AWS_ENDPOINT_URL"
        )
    inputs = spec.root.input_definitions.parameters
    assert not any("secret_key" in n or "password" in n for n in inputs)
    assert "compclip-secret" not in text  # the local server's secret never leaks into the spec


def test_parameters_default_to_the_params_file_sections(compiled):
    spec, _, _ = compiled
    inputs = spec.root.input_definitions.parameters
    for section in SECTIONS:
        default = json_format.MessageToDict(inputs[section].default_value)
        assert _numbers_equal(default, PARAMS[section]), section
    assert list(json_format.MessageToDict(inputs["methods"].default_value)) == list(METHODS)


def test_every_section_reaches_the_lineage_record_from_the_one_list_of_sections(compiled):
    """SECTIONS names each params section once: a pipeline parameter, a parameter of the
    tune-and-compare sub-pipeline and an input of the lineage record."""
    spec, _, _ = compiled
    assert set(SECTIONS) | {"registry"} <= set(spec.root.input_definitions.parameters)
    tune = spec.components["comp-tune-and-compare"].input_definitions.parameters
    assert {f"{s}_params" for s in (*SECTIONS, "registry")} <= set(tune)
    lineage = spec.components["comp-lineage-record"].input_definitions.parameters
    assert {n for n in lineage if n.endswith("_params")} == {f"{s}_params" for s in SECTIONS}


def _numbers_equal(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_numbers_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_numbers_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_dvc_yaml_and_the_pipeline_name_the_same_stages_and_params_sections():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(dvc) == set(STAGES)
    for stage, section in STAGES.items():
        assert dvc[stage].get("do", dvc[stage]).get("params", []) == ([section] if section else []), stage
    assert {s for s in STAGES.values() if s} == set(SECTIONS)


def test_param_overrides_change_only_their_key_and_are_checked():
    params, arguments = apply(PARAMS, ["world.n=500", "train.optim.epochs=1", "shards=8", "methods=[degla]"])
    assert params["world"]["n"] == 500 and PARAMS["world"]["n"] == 60000
    assert params["train"]["optim"] == {**PARAMS["train"]["optim"], "epochs": 1}
    assert arguments == {"shards": 8, "methods": ["degla"]}
    declared = {"shards": "NUMBER_INTEGER", "methods": "LIST", "world": "STRUCT", "corpus": "STRING"}
    check_arguments(declared, {"world": params["world"], **arguments})


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["shards=many"], "shards='many': expected number_integer"),
        (["shards=true"], "expected number_integer"),
        (["nonsense=1"], "unknown pipeline parameter 'nonsense'"),
        (["world.n=lots"], "world.n: expected int, got 'lots'"),
        (["world.colour=red"], "unknown keys ['colour']"),
        (["train.optim.epochs=1.5"], "train.optim.epochs: expected int, got 1.5"),
        (["corpus=3"], "corpus=3: expected string"),
        (["nosuch.key=1"], "unknown section 'nosuch'"),
        (["benchmarks={sugarcrep: {annotations: a, images: b}}"], "unknown benchmark 'sugarcrep'"),
        (["benchmarks={valse: {annotations: a}}"], "benchmarks.valse: give {annotations: URI, images: ROOT}"),
    ],
)
def test_a_wrong_parameter_fails_before_anything_runs(items, message):
    declared = {"shards": "NUMBER_INTEGER", "corpus": "STRING", "world": "STRUCT", "train": "STRUCT",
                "benchmarks": "STRUCT"}  # fmt: skip
    with pytest.raises(UserError, match=None) as err:
        params, arguments = apply(PARAMS, items)
        check_arguments(declared, {"world": params["world"], "train": params["train"], **arguments})
    assert message in str(err.value)


def test_real_benchmarks_become_the_benchmarks_each_model_is_evaluated_on():
    from compclip.evaluate.run import Benchmark, parse_benchmarks

    given = {
        "valse": {"annotations": "s3://b/valse", "images": "s3://b/vimg"},
        "sugarcrepe": {"annotations": "s3://b/sc", "images": "s3://coco/val2017"},
    }
    assert parse_benchmarks(given) == {
        "sugarcrepe": Benchmark("s3://b/sc", "s3://coco/val2017"),
        "valse": Benchmark("s3://b/valse", "s3://b/vimg"),
    }
    assert parse_benchmarks({}) == {}


def test_compile_rejects_a_bad_parameter_with_one_line(tmp_path, capsys):
    argv = ["pipeline", "compile", "--out", str(tmp_path / "p.yaml"), "--params", str(REPO / "params.yaml")]
    code = main([*argv, "--param", "pretrain.optim.epochs=two"])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "p.yaml").exists()
    assert err.count("\n") == 1 and "pretrain.optim.epochs: expected int, got 'two'" in err


@pytest.mark.parametrize("cron", ["0 0 3 * * 0", "*/30 * * * * ?", "0 15 10 ? * MON-FRI", "0 0 0 1 JAN *"])
def test_six_field_cron_expressions_pass(cron):
    assert validate_cron(cron) == cron


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 3 * * 0", "has 5 fields"),
        ("0 0 25 * * 0", "hour '25' is outside 0-23"),
        ("0 0 3 * * 9", "day of week '9' is outside 0-6"),
        ("0 0 3 * FOO *", "month 'FOO'"),
        ("0 x 3 * * *", "minute 'x'"),
    ],
)
def test_bad_cron_expressions_name_the_field(cron, message):
    with pytest.raises(UserError, match=message.replace("*", r"\*")):
        validate_cron(cron)


def test_compiling_again_in_another_process_writes_the_same_bytes(compiled, tmp_path):
    """kfp's header comment lists dict defaults in protobuf map order, which differs by process:
    `pipeline compile` sorts them, so a pipeline's YAML only changes when the pipeline does."""
    out = tmp_path / "again.yaml"
    command = [sys.executable, "-m", "compclip.cli", "pipeline", "compile", "--out", str(out)]
    subprocess.run([*command, "--params", str(REPO / "params.yaml")], check=True, capture_output=True)
    assert "#    registry: dict [Default: {'candidate'" in compiled[2]
    assert out.read_text() == compiled[2]


def test_each_fine_tuning_takes_the_runs_gpus_and_trainer_nodes(compiled):
    spec, _, _ = compiled
    trains = [t for t in _all_tasks(spec) if t.component_ref.name.rstrip("-0123456789") == "comp-train"]
    assert trains
    for task in trains:
        wired = {k: v.component_input_parameter for k, v in task.inputs.parameters.items()}
        assert [wired[k].removeprefix("pipelinechannel--") for k in ("gpus", "nodes")] == [
            "gpus",
            "train_nodes",
        ]
        secret = task.inputs.parameters["s3_secret"].runtime_value.constant.string_value
        assert secret == S3_SECRET  # the Secret's name, fixed at compile time like every task's
    assert spec.root.input_definitions.parameters["train_nodes"].default_value.number_value == 1
