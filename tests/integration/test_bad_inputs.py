"""Every command's ordinary mistakes end in one line and exit status 2, never a traceback.

One table of bad command lines, run in-process through ``compclip.cli.main``. ``{d}`` in an
argument is the folder of fixtures (a real PMI table, shard, model folder, dataset and checkpoint,
each also in a corrupt copy), built once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from compclip.cli import main
from compclip.models import create_model, save_model
from compclip.outputs import WORK_MARKER
from compclip.storage import sha256_file
from unit.test_train_fixtures import write_dataset

pytestmark = pytest.mark.integration

CAPTIONS = "\n".join(
    f"a {c} {o} next to a {c2} {o2}"
    for c in ("red", "blue", "green")
    for o in ("dog", "cat", "ball")
    for c2 in ("small", "large")
    for o2 in ("tree", "car")
)
TRAIN = [
    "train",
    "--method",
    "clip",
    "--model",
    "compclip-tiny-rn",
    "--data",
    "{d}/data",
    "--out",
    "{d}/out/t",
]
PRETRAIN = ["pretrain", "--data", "{d}/data", "--out", "{d}/out/p"]
PARAMS = {
    "malformed.yaml": b"train:\n  lr: [1, 2\n  seed: 3\n",
    "latin1.yaml": "train:\n  method: d\xe9gla\n".encode("latin-1"),
    "list.yaml": b"- train\n- pmi\n",
    "nan-igc.yaml": b"train:\n  loss:\n    igc_weight: .nan\n",
    "ema.yaml": b"train:\n  ema_alpha: 5.0\n",
    "lr-type.yaml": b"pretrain:\n  optim: {lr: fast}\n",
    "gates.yaml": b"gates:\n  zeroshot_tolerance: -0.1\n",
    "stats.yaml": b"evaluate:\n  stats:\n    ci: 95\n",
    "world.yaml": b"world:\n  n: 0\n",
    "negatives.yaml": b"negatives:\n  max_reject_share: 1.5\n",
}

# (command line, a fragment of its one error line)
CASES = [
    # params files
    ([*TRAIN, "--params", "{d}/malformed.yaml"], "malformed.yaml, line 3, column 7: not valid YAML"),
    ([*TRAIN, "--params", "{d}/latin1.yaml"], "latin1.yaml: not UTF-8 text"),
    ([*TRAIN, "--params", "{d}/list.yaml"], "list.yaml: expected a mapping of sections"),
    ([*TRAIN, "--params", "{d}/missing.yaml"], "no such params file"),
    ([*TRAIN, "--params", "{d}/nan-igc.yaml"], "train.loss.igc_weight: must be a finite number, got nan"),
    ([*TRAIN, "--params", "{d}/ema.yaml"], "train.ema_alpha: must be in [0, 1], got 5.0"),
    ([*PRETRAIN, "--params", "{d}/lr-type.yaml"], "pretrain.optim.lr: expected float, got 'fast'"),
    (["world", "corpus", "--out", "{d}/out/w", "--params", "{d}/world.yaml"], "world.n: must be >= 1, got 0"),
    # flags out of range
    ([*TRAIN, "--lr", "nan"], "lr: must be a finite number, got nan"),
    ([*TRAIN, "--lr", "-1"], "lr: must be > 0, got -1.0"),
    ([*TRAIN, "--batch-size", "0"], "batch_size: must be >= 1, got 0"),
    ([*TRAIN, "--epochs", "0"], "epochs: must be >= 1, got 0"),
    ([*TRAIN, "--k-negatives", "0"], "k_negatives: must be >= 1, got 0"),
    ([*PRETRAIN, "--lr", "inf"], "lr: must be a finite number, got inf"),
    ([*PRETRAIN, "--max-steps", "0"], "max_steps: must be >= 1, got 0"),
    (
        ["pmi", "count", "{d}/corpus.txt", "--out", "{d}/out/x", "--smoothing", "nan"],
        "smoothing: must be a finite",
    ),
    (
        ["pmi", "count", "{d}/corpus.txt", "--out", "{d}/out/x", "--max-reject-share", "2"],
        "must be in [0, 1], got 2",
    ),
    (["pmi", "count", "{d}/corpus.txt", "--out", "{d}/out/x", "--min-count", "0"], "min_count: must be >= 1"),
    (
        ["pmi", "count", "{d}/corpus.txt", "--out", "{d}/out/x", "--work-dir", "s3://b/w"],
        "--work-dir s3://b/w: a whole-corpus count works in a local folder",
    ),
    (["data", "import", "{d}/data", "--out", "{d}/out/x", "--max-reject-share", "-0.1"], "must be in [0, 1]"),
    (
        ["compare", "a={d}/r", "b={d}/r", "--out", "{d}/out/x", "--ci", "1.5"],
        "ci: must be in (0, 1), got 1.5",
    ),
    (["compare", "a={d}/r", "b={d}/r", "--out", "{d}/out/x", "--n-boot", "0"], "n_boot: must be >= 1, got 0"),
    (["evaluate", "--model", "m", "--out", "{d}/out/x", "--batch-size", "0"], "batch_size: must be >= 1"),
    (
        ["evaluate", "--model", "m", "--out", "{d}/out/x", "--params", "{d}/stats.yaml"],
        "stats.ci: must be in (0, 1)",
    ),
    (
        ["evalsets", "build", "--pmi", "{d}/pmi", "--out", "{d}/out/x", "--per-stratum", "0"],
        "per_stratum: must be",
    ),
    (
        ["negatives", "generate", "{d}/data", "--out", "{d}/out/x", "--per-type", "0"],
        "per_type: must be >= 1",
    ),
    (
        ["negatives", "generate", "{d}/data", "--out", "{d}/out/x", "--params", "{d}/negatives.yaml"],
        "got 1.5",
    ),
    (["serve", "--model", "m", "--name", "n", "--port", "70000"], "port: must be in [0, 65535], got 70000"),
    (["serve", "--model", "m", "--name", "n", "--batch-wait-ms", "nan"], "batch_wait_ms: must be a finite"),
    (["world", "corpus", "--out", "{d}/out/w", "--n", "-5"], "n: must be >= 1, got -5"),
    (
        ["genpairs", "run", "--pmi", "{d}/pmi", "--out", "{d}/out/x", "--per-stratum", "0"],
        "per_stratum: must be",
    ),
    (
        [
            "registry",
            "policy",
            "set",
            "n",
            "--root",
            "s3://b/reg",
            "--params",
            "{d}/gates.yaml",
            "--reason",
            "x",
        ],
        "gates.zeroshot_tolerance: must be >= 0, got -0.1",
    ),
    # missing inputs
    (["pmi", "count", "{d}/none.txt", "--out", "{d}/out/x"], "no such file"),
    (["pmi", "query", "red", "dog", "--table", "{d}/none"], "no such folder"),
    ([*TRAIN[:6], "{d}/none", *TRAIN[7:]], "no such folder"),
    (["models", "check", "{d}/none"], "unknown model source"),
    (["compare", "{d}/none", "{d}/r", "--out", "{d}/out/x"], "no such folder"),
    (
        ["evaluate", "--model", "compclip-tiny-rn", "--out", "{d}/out/x", "--zeroshot", "{d}/none"],
        "no such folder",
    ),
    (["data", "import", "{d}/none", "--out", "{d}/out/x"], "{d}/none"),
    (["negatives", "generate", "{d}/none.txt", "--out", "{d}/out/x"], "no such file"),
    (["lineage", "push", "{d}/none.json"], "no such manifest"),
    # corrupt inputs
    (["pmi", "query", "red", "dog", "--table", "{d}/pmi-bad-header"], "header.json: not valid JSON (line 1"),
    (["pmi", "query", "red", "dog", "--table", "{d}/pmi-bad-pairs"], "pairs.parquet: not a readable Parquet"),
    (["pmi", "top", "red", "--table", "{d}/pmi-no-keys"], "header.json: missing mode, smoothing, n_captions"),
    (
        ["evalsets", "build", "--pmi", "{d}/pmi-bad-pairs", "--out", "{d}/out/x"],
        "pairs.parquet: not a readable",
    ),
    (["pmi", "merge", "{d}/shard-bad", "--out", "{d}/out/x"], "shard.json: not valid JSON"),
    (["pmi", "merge", "{d}/shard-bad-concepts", "--out", "{d}/out/x"], "concepts.parquet: not a readable"),
    (["compare", "{d}/r-bad", "{d}/r", "--out", "{d}/out/x"], "metrics.json: not valid JSON"),
    (
        ["evaluate", "--model", "compclip-tiny-rn", "--out", "{d}/out/x", "--zeroshot", "{d}/set-bad"],
        "evalset.json: not UTF-8 text",
    ),
    (
        ["evaluate", "--model", "compclip-tiny-rn", "--out", "{d}/out/x", "--zeroshot", "{d}/set-bad-items"],
        "items.parquet: not a readable Parquet",
    ),
    (["models", "check", "{d}/model-bad-manifest"], "manifest.json: not valid JSON"),
    (
        [*TRAIN[:4], "{d}/model-bad-config", *TRAIN[5:]],
        "the model folder does not load (Could not load valid config",
    ),
    (
        [*TRAIN[:4], "{d}/model-bad-weights", *TRAIN[5:]],
        "the model folder does not load (Error while deserializing",
    ),
    (["models", "check", "{d}/model-tampered"], "does not match"),
    ([*PRETRAIN[:-1], "{d}/ck/p", "--batch-size", "2"], "step_2/checkpoint.json: not valid JSON"),
    (["data", "import", "{d}/data-bad", "--out", "{d}/out/x"], "captions.parquet: not a readable Parquet"),
    (
        ["pipeline", "compile", "--params", "{d}/malformed.yaml", "--out", "{d}/out/p.yaml"],
        "malformed.yaml, line 3, column 7: not valid YAML",
    ),
    (["deploy", "apply", "--file", "{d}/malformed.yaml", "--dry-run"], "malformed.yaml: not YAML ("),
    (["inspect", "--url", "http://127.0.0.1:9", "--lineage", "{d}/r-bad/metrics.json"], "not valid JSON"),
    # services and repositories
    (
        [
            "inspect",
            "--url",
            "http://127.0.0.1:9",
            "--image",
            "{d}/data/images/000.png",
            "--specification",
            "a",
        ],
        "no inspection service answers at http://127.0.0.1:9",
    ),
    (["lineage", "push", "{d}/lineage.json", "--repo", "{d}"], "not in a DVC repository"),
    (["lineage", "push", "{d}/lineage-evil.json", "--repo", "{d}"], "lineage name '../../x'"),
    (["lineage", "record", "--out", "{d}/out/l", "--run-id", "..", "--output", "a={d}/corpus.txt"], "'..'"),
]


def _corrupt_copy(source: Path, target: Path, name: str, data: bytes, rehash: bool = False) -> None:
    shutil.copytree(source, target)
    (target / name).write_bytes(data)
    if rehash:  # a consistent manifest: only loading the file shows that it is broken
        manifest = json.loads((target / "manifest.json").read_text())
        manifest["files"][name] = sha256_file(str(target / name))
        (target / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-inputs")
    for name, data in PARAMS.items():
        (d / name).write_bytes(data)
    (d / "corpus.txt").write_text(CAPTIONS + "\n")
    assert main(["pmi", "count", str(d / "corpus.txt"), "--out", str(d / "pmi"), "--min-count", "1"]) == 0
    _corrupt_copy(d / "pmi", d / "pmi-bad-header", "header.json", b'{"mode": "exact",')
    _corrupt_copy(d / "pmi", d / "pmi-no-keys", "header.json", b"{}")
    pairs = (d / "pmi" / "pairs.parquet").read_bytes()
    _corrupt_copy(d / "pmi", d / "pmi-bad-pairs", "pairs.parquet", pairs[: len(pairs) // 2])
    shard = ["pmi", "count", str(d / "corpus.txt"), "--shard", "--out", str(d / "shard"), "--min-count", "1"]
    assert main(shard) == 0
    _corrupt_copy(d / "shard", d / "shard-bad", "shard.json", b"not json")
    _corrupt_copy(d / "shard", d / "shard-bad-concepts", "concepts.parquet", b"PAR1 truncated")
    (d / "r").mkdir()
    (d / "r" / "metrics.json").write_text("{}")
    _corrupt_copy(d / "r", d / "r-bad", "metrics.json", b"{'single': 'quotes'}")
    (d / "set-bad").mkdir()
    (d / "set-bad" / "evalset.json").write_bytes(b'{"kind": "zero\xffshot"}')
    (d / "set-bad" / "items.parquet").write_bytes(b"")
    (d / "set-bad-items").mkdir()
    (d / "set-bad-items" / "evalset.json").write_text('{"kind": "zeroshot", "classes": ["a", "b"]}')
    (d / "set-bad-items" / "items.parquet").write_bytes(b"\x00" * 64)
    model = save_model(create_model("compclip-tiny-rn"), d / "model")
    _corrupt_copy(model, d / "model-bad-manifest", "manifest.json", b'{"files": ')
    _corrupt_copy(model, d / "model-bad-config", "open_clip_config.json", b"{nope", rehash=True)
    _corrupt_copy(model, d / "model-bad-weights", "open_clip_model.safetensors", b"\x08" * 16, rehash=True)
    _corrupt_copy(model, d / "model-tampered", "open_clip_model.safetensors", b"\x08" * 16)
    write_dataset(d / "data", n=4)
    _corrupt_copy(d / "data", d / "data-bad", "captions.parquet", b"PAR1")
    step = d / "ck" / "p.checkpoints" / "step_2"
    step.mkdir(parents=True)
    (step.parent / WORK_MARKER).write_text('{"stage": "checkpoints"}')  # a checkpoint folder of compclip's
    (step / "checkpoint.json").write_text('{"fingerprint": ')
    (d / "lineage.json").write_text(
        json.dumps({"run_id": "r1", "outputs": {"a": {"uri": str(d / "corpus.txt")}}})
    )
    (d / "lineage-evil.json").write_text(json.dumps({"run_id": "../../x", "outputs": {}}))
    (d / "out").mkdir()
    return d


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[f"{i}-{c[0][0]}" for i, c in enumerate(CASES)])
def test_a_bad_input_is_one_line_and_exit_2(fixtures, argv, message, capsys):
    code = main([a.replace("{d}", str(fixtures)) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert code == 2 and len(errors) == 1, err
    assert errors[0] == err.rstrip("\n").splitlines()[-1]  # nothing after it (no progress bar, no log)
    assert errors[0].startswith(f"compclip {argv[0]}: error: ")
    assert message.replace("{d}", str(fixtures)) in errors[0]
    assert not list((fixtures / "out").iterdir())  # nothing written by a refused run


def test_weights_are_written_like_every_other_output(fixtures):
    """0644 under the usual umask: what a plain open gives (safetensors alone writes 0600)."""
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (fixtures / "model").iterdir()}
    assert set(modes.values()) == {0o666 & ~plain_umask()}, modes


def plain_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_verbose_logging_never_prints_s3_credentials(tmp_path):
    """botocore's debug lines carry the request headers (the session token): -v leaves them out."""
    secrets = {"AWS_SECRET_ACCESS_KEY": "secret-key-4711", "AWS_SESSION_TOKEN": "session-token-4711"}
    env = {**os.environ, **secrets, "AWS_ACCESS_KEY_ID": "key-id", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    argv = ["-v", "pmi", "count", "s3://bucket/corpus.txt", "--out", str(tmp_path / "t")]
    done = subprocess.run([sys.executable, "-m", "compclip.cli", *argv], env={**env, "AWS_MAX_ATTEMPTS": "1"},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "S3 at http://127.0.0.1:9, s3://bucket/corpus.txt: cannot connect" in done.stderr
    assert not [value for value in secrets.values() if value in done.stderr + done.stdout]
