"""The registry against a real S3 server: publish, list, show, diff, gates, promote, rollback, audit,
pull with tamper detection, and concurrent publishers and promoters."""

from __future__ import annotations

import json
import multiprocessing
import os

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.cli import main
from compclip.errors import UserError
from compclip.evaluate.compare import compare
from compclip.evaluate.results import results_file
from compclip.evaluate.stats import StatsConfig
from compclip.registry import audit, promotion, read, resolve
from compclip.registry.gates import GatesConfig
from compclip.registry.publish import PublishConfig, publish
from compclip.registry.store import Store

pytestmark = pytest.mark.integration

N = 40  # zero-shot items (PMI 0..39) and items per benchmark subset
# An open_clip architecture small enough that eight publishers upload it at once in seconds (3 MB).
MICRO = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "head_width": 8},
    "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}
GATES = GatesConfig(families=("swap", "replace"), margin=0.0, zeroshot_tolerance=0.02, gap_tolerance=0.0)


def write_report(folder, zeroshot_correct, bench_correct):
    """A report as ``compclip evaluate`` writes it: metrics.json, per-item tables, report.html."""
    (folder / "results").mkdir(parents=True)
    zs, bench = np.asarray(zeroshot_correct, float), np.asarray(bench_correct, float)
    ids, pmi = [f"z{i}" for i in range(N)], np.arange(N, dtype=float)
    tail = ["low"] * 4 + [None] * (N - 8) + ["high"] * 4  # the 4 lowest and highest PMI: the gap's tails
    table = pa.table({"id": ids, "pmi": pmi, "accessory": ["ring"] * N, "correct": zeroshot_correct,
                      "pmi_tail": pa.array(tail, pa.string())})  # fmt: skip
    pq.write_table(table, results_file(folder, "zeroshot/set"))
    subsets = ["swap_att"] * N + ["replace_att"] * N
    bench_table = pa.table(
        {"id": [f"b{i}" for i in range(2 * N)], "subset": subsets, "correct": bench_correct}
    )
    pq.write_table(bench_table, results_file(folder, "sugarcrepe"))
    metrics = {
        "zeroshot/set/acc": zs.mean(),
        "zeroshot/set/gap": zs[-4:].mean() - zs[:4].mean(),
        "zeroshot/set/n_tail": 4,
        "sugarcrepe/swap_att/acc": bench[:N].mean(),
        "sugarcrepe/replace_att/acc": bench[N:].mean(),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "report.html").write_text("<html><body>report</body></html>\n")
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny random model folder; base, better and worse reports; a comparison for each."""
    import open_clip

    from compclip.models import create_model, save_model

    root = tmp_path_factory.mktemp("registry-inputs")
    (root / "compclip-test-micro.json").write_text(json.dumps(MICRO))
    open_clip.add_model_config(root / "compclip-test-micro.json")
    data = root / "data"
    data.mkdir()
    (data / "captions.parquet").write_bytes(b"captions")
    (root / "negatives.json").write_text("[]")
    model = root / "model"
    model.mkdir()
    (model / "metrics.json").write_text('{"steps": 3}')
    training = {"base": "compclip-test-micro", "data": str(data), "negatives": str(root / "negatives.json")}
    save_model(
        create_model("compclip-test-micro"),
        model,
        extra={"training": {**training, "config": {"method": "degla"}}, "files": ["metrics.json"]},
    )
    half = [0, 1] * (N // 2)
    base = write_report(root / "base", [int(p >= 8) for p in range(N)], half + half)
    good = write_report(root / "good", [1] * N, [1] * (2 * N))
    bad = write_report(root / "bad", [int(p >= 20) for p in range(N)], half + half)
    stats = StatsConfig(n_boot=200, seed=0)
    compare({"base": str(base), "tuned": str(good)}, str(root / "compare-good"), stats)
    compare({"base": str(base), "tuned": str(bad)}, str(root / "compare-bad"), stats)
    return root


@pytest.fixture
def root(s3_server, request):
    """A fresh registry root (its own prefix) per test."""
    return f"s3://{s3_server.bucket}/{request.node.name}"


def publish_good(inputs, root, name="world", **kw):
    config = PublishConfig(name=name, gates=GATES, **kw)
    return publish(str(inputs / "model"), str(inputs / "good"), str(inputs / "compare-good"), root, config)


def publish_bad(inputs, root, name="world"):
    config = PublishConfig(name=name, gates=GATES)
    return publish(str(inputs / "model"), str(inputs / "bad"), str(inputs / "compare-bad"), root, config)


def test_publish_list_show_diff(inputs, root):
    assert publish_good(inputs, root, run_id="run-1") == "v1"
    assert publish_bad(inputs, root) == "v2"
    store = Store(root)
    assert read.names(store) == ["world"]
    rows = read.versions(store, "world")
    assert [(r["version"], r["complete"], r["run_id"]) for r in rows] == [
        ("v1", True, "run-1"),
        ("v2", True, None),
    ]

    shown = read.show(store, "world", "v1")
    assert shown["uri"] == f"{root}/registry/world/v1/"
    assert {
        "open_clip_model.safetensors",
        "open_clip_config.json",
        "training/metrics.json",
        "metrics.json",
        "report.html",
        "compare/compare.json",
        "compare/compare.md",
        "compare/compare.html",
        "compare/plots/forest.png",
        "model_card.md",
        "lineage.json",
    } == set(shown["files"])
    lineage = shown["lineage"]
    assert lineage["candidate"] == "tuned" and lineage["base"] == "compclip-test-micro"
    assert (
        len(lineage["inputs"]["data"]["sha256"]) == 64 and len(lineage["inputs"]["negatives"]["sha256"]) == 64
    )
    card = store.get("registry/world/v1/model_card.md")[0].decode()
    assert "compositional/swap/mean_acc" in card and "PMI gap before and after" in card
    assert lineage["inputs"]["data"]["sha256"] in card

    by_metric = {r["metric"]: r for r in read.diff(store, "world", "v1", "v2")}
    assert by_metric["zeroshot/set/acc"]["v1"] == 1.0
    assert by_metric["zeroshot/set/acc"]["change"] == pytest.approx(0.5 - 1.0)


def test_the_version_loads_as_a_model_and_kserve_layout(inputs, root):
    from compclip.models import load_model

    version = publish_good(inputs, root)
    bundle = load_model(f"{root}/registry/world/{version}/")
    assert bundle.name == "compclip-test-micro"


def test_versions_are_immutable(inputs, root):
    publish_good(inputs, root)
    store = Store(root)
    assert not store.create("registry/world/v1/report.html", b"overwritten")
    assert store.get("registry/world/v1/report.html")[0].startswith(b"<html>")


def test_gates_pass_promote_and_rollback(inputs, root):
    for _ in range(2):
        publish_good(inputs, root)
    move = promotion.promote(root, "world", "v1", "staging", GATES)
    assert move.event["forced"] is False and all(g.passed for g in move.gates)
    assert resolve(root, "world", "staging") == f"{root}/registry/world/v1/"
    promotion.promote(root, "world", "v2", "staging", GATES)
    with pytest.raises(UserError, match="already points to v2"):
        promotion.promote(root, "world", "v2", "staging", GATES)
    back = promotion.rollback(root, "world", "staging", reason="smoke test failed")
    assert (back.alias.version, back.alias.previous) == ("v1", "v2")
    assert resolve(root, "world", "staging").endswith("/registry/world/v1/")
    events = audit.events(Store(root), "world")
    assert [(e["action"], e["from"], e["to"]) for e in events] == [
        ("publish", None, "v1"),
        ("publish", None, "v2"),
        ("promote", None, "v1"),
        ("promote", "v1", "v2"),
        ("rollback", "v2", "v1"),
    ]
    assert events[-1]["reason"] == "smoke test failed" and events[-1]["stage"] == "staging"
    with pytest.raises(UserError, match="no production version"):
        resolve(root, "world", "production")
    with pytest.raises(UserError, match="nothing to roll back"):
        promotion.rollback(root, "world", "production")


def test_failed_gates_change_nothing_and_force_is_audited(inputs, root, capsys):
    publish_good(inputs, root)
    promotion.promote(root, "world", "v1", "production", GATES)
    publish_bad(inputs, root)
    store = Store(root)
    alias_before = store.get("aliases/world/production.json")
    with pytest.raises(UserError) as failed:
        promotion.promote(root, "world", "v2", "production", GATES)
    message = str(failed.value)
    failing = [line.split(":")[0].strip() for line in message.splitlines()[1:]]
    assert failing == ["compositional/swap", "compositional/replace", "zeroshot/set"]  # the gap held
    assert "base +0.8000, candidate +0.5000, change -0.3000" in message  # each with its numbers
    assert store.get("aliases/world/production.json") == alias_before
    assert [e["action"] for e in audit.events(store, "world")] == ["publish", "promote", "publish"]

    with pytest.raises(UserError, match="needs --reason"):
        promotion.promote(root, "world", "v2", "production", GATES, force=True)
    move = promotion.promote(root, "world", "v2", "production", GATES, force=True, reason="accepted by QA")
    event = audit.events(store, "world")[-1]
    assert event == move.event
    assert event["forced"] is True and event["reason"] == "accepted by QA" and event["from"] == "v1"
    assert any(not g["passed"] for g in event["gates"])

    assert promotion.promote_if_gates_pass(root, "world", "v2", GATES, "staging")[0] is None
    assert read.stages(store, "world").keys() == {"production"}
    moved, results = promotion.promote_if_gates_pass(root, "world", "v1", GATES, "staging")
    assert moved.alias.version == "v1" and all(r.passed for r in results)


def test_pull_verifies_and_refuses_a_tampered_or_missing_file(inputs, root, tmp_path):
    publish_good(inputs, root)
    promotion.promote(root, "world", "v1", "staging", GATES)
    store = Store(root)
    assert read.pull(store, "world", "staging", str(tmp_path / "ok")) == "v1"
    assert (tmp_path / "ok" / "open_clip_model.safetensors").is_file()

    key = f"{store.prefix}/registry/world/v1/open_clip_config.json"
    boto3.client("s3").put_object(Bucket=store.bucket, Key=key, Body=b"{}")  # tampered behind the registry
    with pytest.raises(UserError, match=r"open_clip_config\.json does not match its sha256"):
        read.pull(store, "world", "v1", str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()
    boto3.client("s3").delete_object(Bucket=store.bucket, Key=key)
    with pytest.raises(UserError, match=r"open_clip_config\.json listed in the manifest is missing"):
        read.pull(store, "world", "v1", str(tmp_path / "bad"))
    boto3.client("s3").put_object(Bucket=store.bucket, Key=key.replace("config.json", "x.pkl"), Body=b"x")
    with pytest.raises(UserError, match=r"x\.pkl is not listed"):
        read.pull(store, "world", "v1", str(tmp_path / "bad"))


def test_incomplete_version_is_skipped_and_refused(inputs, root):
    store = Store(root)
    assert store.create("registry/world/v1/lineage.json", b'{"version": "v1"}')  # a publisher that died
    assert publish_good(inputs, root) == "v2"
    assert [r["complete"] for r in read.versions(store, "world")] == [False, True]
    with pytest.raises(UserError, match="incomplete"):
        promotion.promote(root, "world", "v1", "staging", GATES, force=True, reason="x")


def test_clear_errors_for_credentials_and_endpoint(root, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(UserError, match=r"refused access .*compclip-test.* at http://127\.0\.0\.1"):
        resolve(root, "world", "staging")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(
        UserError, match=r"S3 client for bucket compclip-test at http://127\.0\.0\.1.*AWS_SECRET_ACCESS_KEY"
    ):
        resolve(root, "world", "staging")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(UserError, match=r"no S3 credentials .*compclip-test"):
        resolve(root, "world", "staging")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "compclip")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "compclip-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(
        UserError, match=r"cannot reach the S3 endpoint http://127\.0\.0\.1:9 \(bucket compclip-test"
    ):
        resolve(root, "world", "staging")


def _publish_and_promote(args):
    inputs, root, worker = args
    os.environ["COMPCLIP_ACTOR"] = f"worker-{worker}"
    version = publish_good(inputs, root, run_id=f"run-{worker}")
    promotion.promote(root, "world", version, "staging", GATES)
    return worker, version


def test_concurrent_publishers_and_promoters(inputs, root):
    workers = 8
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = dict(pool.map(_publish_and_promote, [(inputs, root, w) for w in range(workers)]))
    store = Store(root)
    assert sorted(done.values(), key=lambda v: int(v[1:])) == [f"v{i}" for i in range(1, workers + 1)]
    rows = read.versions(store, "world")
    assert all(r["complete"] for r in rows) and len(rows) == workers
    assert {r["run_id"] for r in rows} == {f"run-{w}" for w in range(workers)}  # no version lost or shared
    for worker, version in done.items():
        assert read.show(store, "world", version)["lineage"]["run_id"] == f"run-{worker}"

    events = audit.events(store, "world")
    assert sorted((e["action"], e["by"]) for e in events) == sorted(
        (action, f"worker-{w}") for w in range(workers) for action in ("publish", "promote")
    )
    # The promotions form one chain: each moved the alias from where the one before left it.
    moves = {e["from"]: e["to"] for e in events if e["action"] == "promote"}
    assert len(moves) == workers
    chain, at = [], None
    while at in moves:
        at = moves[at]
        chain.append(at)
    assert sorted(chain) == sorted(done.values())
    alias = json.loads(store.get("aliases/world/staging.json")[0])  # whole, valid JSON
    assert alias["version"] == chain[-1] and alias["previous"] == chain[-2]


def test_cli_round_trip(inputs, root, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(f"registry: {{root: {root}, name: world}}\ngates: {{families: [swap], margin: 0.0}}\n")
    common = ["--params", str(params)]
    model, good, compare_good = (str(inputs / p) for p in ("model", "good", "compare-good"))
    assert main(["registry", "publish", model, "--report", good, "--compare", compare_good, *common]) == 0
    assert "published world v1" in capsys.readouterr().out
    assert main(["registry", "gates", "world", "v1", *common]) == 0
    assert "compositional/swap: pass" in capsys.readouterr().out
    assert main(["registry", "promote", "world", "v1", "--to", "staging", *common, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["alias"]["version"] == "v1"
    assert main(["registry", "list", *common]) == 0
    assert "world  1" in capsys.readouterr().out
    assert main(["registry", "audit", "world", *common, "--json"]) == 0
    assert [e["action"] for e in json.loads(capsys.readouterr().out)] == ["publish", "promote"]
    assert main(["registry", "pull", "world", "staging", "--out", str(tmp_path / "m"), *common]) == 0
    assert main(["registry", "promote", "world", "v9", "--to", "staging", *common]) == 2
    assert "v9 does not exist" in capsys.readouterr().err


def test_publish_promote_staging_moves_the_alias_only_when_the_gates_pass(inputs, root, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(f"registry: {{root: {root}, name: world}}\ngates: {{families: [swap, replace]}}\n")
    common = ["--params", str(params), "--promote", "staging"]
    model = str(inputs / "model")
    good = ["--report", str(inputs / "good"), "--compare", str(inputs / "compare-good")]
    bad = ["--report", str(inputs / "bad"), "--compare", str(inputs / "compare-bad")]
    assert main(["registry", "publish", model, *good, *common]) == 0
    out = capsys.readouterr().out
    assert "world staging: - -> v1" in out and "compositional/swap: pass" in out
    assert main(["registry", "publish", model, *bad, *common, "--json"]) == 0
    promotion_ = json.loads(capsys.readouterr().out)["promotion"]
    assert promotion_["promoted"] is False and promotion_["alias"] is None
    failing = [g["name"] for g in promotion_["gates"] if not g["passed"]]
    assert failing == ["compositional/swap", "compositional/replace", "zeroshot/set"]
    store = Store(root)
    assert read.stages(store, "world")["staging"]["version"] == "v1"  # v2 is published, not promoted
    assert [r["version"] for r in read.versions(store, "world")] == ["v1", "v2"]
    assert [(e["action"], e["to"]) for e in audit.events(store, "world")] == [
        ("publish", "v1"),
        ("promote", "v1"),
        ("publish", "v2"),
    ]
    assert main(["registry", "resolve", "world", "staging", "--params", str(params)]) == 0
    assert capsys.readouterr().out.strip() == resolve(root, "world", "staging")


def test_the_publish_component_publishes_and_promotes_the_candidate(inputs, root, tmp_path):
    from kfp.dsl import Dataset, Model

    from compclip.components.publish.component import publish as publish_op

    # the comparison names the candidate "tuned": its model and report are picked by that name
    model = Model(name="m", uri=str(inputs / "model"), metadata={"method": "tuned"})
    other = Model(name="o", uri=str(tmp_path / "nothing"), metadata={"method": "clip"})
    report = Dataset(name="r", uri=str(inputs / "good"), metadata={"name": "tuned"})
    comparison = Dataset(name="c", uri=str(inputs / "compare-good"))
    out = Dataset(name="published", uri=str(tmp_path / "published"))
    registry = {"root": root, "name": "world", "candidate": "tuned"}
    publish_op.python_func(run_id="run-7", models=[other, model], reports=[report], comparison=comparison,
                           registry=registry, gates={"families": ["swap"]}, published=out)  # fmt: skip
    record = json.loads((tmp_path / "published" / "published.json").read_text())
    assert record["version"] == "v1" and record["run_id"] == "run-7"
    assert record["promotion"]["promoted"] and record["promotion"]["alias"]["version"] == "v1"
    assert resolve(root, "world", "staging").rstrip("/").endswith("registry/world/v1")
    assert read.show(Store(root), "world", "v1")["lineage"]["run_id"] == "run-7"
