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
from compclip.registry import audit, policy, promotion, read, resolve
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
LAX = GatesConfig(families=("swap",), margin=-1.0, zeroshot_tolerance=1.0, gap_tolerance=1.0)


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


def publish_good(inputs, root, name="world", run_id="good", **kw):
    config = PublishConfig(name=name, run_id=run_id, **kw)
    return publish(str(inputs / "model"), str(inputs / "good"), str(inputs / "compare-good"), root, config)


def publish_bad(inputs, root, name="world", run_id=None):
    config = PublishConfig(name=name, run_id=run_id)
    return publish(str(inputs / "model"), str(inputs / "bad"), str(inputs / "compare-bad"), root, config)


def put(store, key, body):
    """A plain PUT behind the registry's back, as anyone holding a read-write key can do."""
    boto3.client("s3").put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}", Body=body)


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
    for run in ("run-1", "run-2"):
        publish_good(inputs, root, run_id=run)
    move = promotion.promote(root, "world", "v1", "staging")
    assert move.event["forced"] is False and all(g.passed for g in move.gates)
    assert resolve(root, "world", "staging") == f"{root}/registry/world/v1/"
    promotion.promote(root, "world", "v2", "staging")
    with pytest.raises(UserError, match="already points to v2"):
        promotion.promote(root, "world", "v2", "staging")
    with pytest.raises(UserError, match="needs --reason"):
        promotion.rollback(root, "world", "staging", reason=None)
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
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    with pytest.raises(UserError, match="no production version"):
        resolve(root, "world", "production")
    with pytest.raises(UserError, match="nothing to roll back"):
        promotion.rollback(root, "world", "production", reason="x")


def test_failed_gates_change_nothing_and_force_is_audited(inputs, root, capsys):
    publish_good(inputs, root)
    promotion.promote(root, "world", "v1", "staging")
    promotion.promote(root, "world", "v1", "production")
    publish_bad(inputs, root)
    store = Store(root)
    alias_before = store.get("aliases/world/production.json")
    with pytest.raises(UserError) as failed:
        promotion.promote(root, "world", "v2", "production")
    message = str(failed.value)
    failing = [line.split(":")[0].strip() for line in message.splitlines()[1:]]
    assert failing == ["compositional/replace", "compositional/swap", "zeroshot/set"]  # the gap held
    assert "base +0.8000, candidate +0.5000, change -0.3000" in message  # each with its numbers
    assert store.get("aliases/world/production.json") == alias_before
    assert [e["action"] for e in audit.events(store, "world")] == ["publish", "promote", "promote", "publish"]

    with pytest.raises(UserError, match="needs --reason"):
        promotion.promote(root, "world", "v2", "production", force=True)
    move = promotion.promote(root, "world", "v2", "production", force=True, reason="accepted by QA")
    event = audit.events(store, "world")[-1]
    assert event == move.event
    assert event["forced"] is True and event["reason"] == "accepted by QA" and event["from"] == "v1"
    assert event["overrode"] == ["gates", "staging"]  # failed gates, and never on staging
    assert any(not g["passed"] for g in event["gates"])

    # a rollback is a promotion: v1 passes, so production goes back; rolling back onto v2 would not
    back = promotion.rollback(root, "world", "production", reason="QA was wrong")
    assert (back.alias.version, back.event["action"], back.event["overrode"]) == ("v1", "rollback", [])
    with pytest.raises(UserError, match="v2 fails 3 gate"):
        promotion.rollback(root, "world", "production", reason="back again")

    assert promotion.promote_if_gates_pass(root, "world", "v2", "staging")[0] is None
    assert read.stages(store, "world")["staging"]["version"] == "v1"


def test_production_takes_only_what_was_on_staging(inputs, root):
    publish_good(inputs, root)
    with pytest.raises(UserError, match="never on staging"):
        promotion.promote(root, "world", "v1", "production")
    assert read.stages(Store(root), "world") == {}
    promotion.promote(root, "world", "v1", "staging")
    assert promotion.promote(root, "world", "v1", "production").event["overrode"] == []


def test_the_gates_are_the_registrys_policy(inputs, root, tmp_path, capsys):
    publish_bad(inputs, root)
    promotion.promote(root, "world", "v1", "staging", force=True, reason="baseline for the test")
    lax = tmp_path / "lax.yaml"
    lax.write_text(
        f"registry: {{root: {root}}}\ngates: {{families: [swap], margin: -1.0, zeroshot_tolerance: 1.0}}\n"
    )
    # a caller's params file has no say in promotion: v1 still fails the registry's gates
    assert main(["registry", "promote", "world", "v1", "--to", "production", "--params", str(lax)]) == 2
    assert "fails 3 gate(s) of policy v0" in capsys.readouterr().err
    assert main(["registry", "policy", "set", "world", "--params", str(lax)]) == 2
    assert "needs --reason" in capsys.readouterr().err
    event, changed = policy.set_policy(root, "world", LAX, "QA accepts any change for the smoke model")
    assert changed and event["policy_version"] == 1 and event["policy"]["margin"] == -1.0
    again, changed = policy.set_policy(root, "world", LAX, "again")
    assert not changed and (again["seq"], again["id"]) == (event["seq"], event["id"])  # no new event
    assert promotion.promote(root, "world", "v1", "production").event["policy_version"] == 1
    assert main(["registry", "policy", "show", "world", "--root", root, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["policy_version"] == 1 and shown["gates"]["families"] == ["swap"]


def test_publish_is_idempotent_for_a_run_and_its_weights(inputs, root):
    assert publish_good(inputs, root, run_id="run-1") == "v1"
    assert publish_good(inputs, root, run_id="run-1") == "v1"  # the pipeline retried its publish step
    assert publish_good(inputs, root, run_id="run-2") == "v2"
    store = Store(root)
    assert [r["version"] for r in read.versions(store, "world")] == ["v1", "v2"]
    assert [(e["action"], e["to"]) for e in audit.events(store, "world")] == [
        ("publish", "v1"),
        ("publish", "v2"),
    ]


def test_evidence_and_manifests_are_read_verified(inputs, root):
    publish_good(inputs, root, run_id="good")
    publish_bad(inputs, root, run_id="bad")
    store = Store(root)
    # v1's comparison copied over v2's: the gates would pass, the manifest says otherwise
    put(
        store,
        "registry/world/v2/compare/compare.json",
        store.get("registry/world/v1/compare/compare.json")[0],
    )
    with pytest.raises(UserError, match=r"compare/compare\.json does not match its sha256"):
        promotion.promote(root, "world", "v2", "staging")
    # a manifest rewritten to match is not the one v2 was published with
    manifest = json.loads(store.get("registry/world/v2/manifest.json")[0])
    manifest["files"]["compare/compare.json"] = json.loads(store.get("registry/world/v1/manifest.json")[0])[
        "files"
    ]["compare/compare.json"]
    put(store, "registry/world/v2/manifest.json", json.dumps(manifest).encode())
    with pytest.raises(UserError, match="not the one it was published with"):
        promotion.promote(root, "world", "v2", "staging")
    assert read.stages(store, "world") == {}
    count, problems = audit.verify(store, "world")
    assert count == 2 and problems == ["world v2: its manifest changed after it was published"]


def test_an_alias_written_behind_the_registry_is_refused(inputs, root):
    publish_good(inputs, root)
    promotion.promote(root, "world", "v1", "staging")
    store = Store(root)
    alias = json.loads(store.get("aliases/world/staging.json")[0])
    put(
        store,
        "aliases/world/staging.json",
        json.dumps({**alias, "uri": "s3://evil/registry/world/v1/"}).encode(),
    )
    with pytest.raises(UserError, match=r"points to 's3://evil/registry/world/v1/'.*refusing it"):
        resolve(root, "world", "staging")
    put(store, "aliases/world/staging.json", json.dumps({"version": "v1", "uri": "s3://evil/x/"}).encode())
    with pytest.raises(UserError, match="not an alias written by compclip"):
        resolve(root, "world", "staging")
    # a well-formed alias at a version whose manifest is not the one promoted, or is incomplete
    put(store, "aliases/world/staging.json", json.dumps(alias).encode())
    assert resolve(root, "world", "staging").endswith("/registry/world/v1/")
    manifest = store.get("registry/world/v1/manifest.json")[0]
    put(store, "registry/world/v1/manifest.json", manifest.replace(b'"name": "world"', b'"name": "other"'))
    with pytest.raises(UserError, match="manifest of v1 changed after it was promoted"):
        resolve(root, "world", "staging")
    boto3.client("s3").delete_object(
        Bucket=store.bucket, Key=f"{store.prefix}/registry/world/v1/manifest.json"
    )
    with pytest.raises(UserError, match="v1 is incomplete"):
        resolve(root, "world", "staging")


def test_the_audit_log_is_a_verified_hash_chain(inputs, root, capsys):
    publish_good(inputs, root, run_id="a")
    publish_good(inputs, root, run_id="b")
    promotion.promote(root, "world", "v1", "staging")
    store = Store(root)
    assert audit.verify(store, "world") == (3, [])
    assert main(["registry", "verify", "world", "--root", root]) == 0
    event = json.loads(store.get("audit/world/00000002.json")[0])
    put(store, "audit/world/00000002.json", json.dumps({**event, "by": "someone-else"}).encode())
    assert audit.verify(store, "world")[1] == [
        "event 2 was edited or replaced (event 3 names another digest)"
    ]
    with pytest.raises(UserError, match="fails verification: event 2 was edited"):
        promotion.promote(root, "world", "v2", "staging")
    boto3.client("s3").delete_object(Bucket=store.bucket, Key=f"{store.prefix}/audit/world/00000002.json")
    assert audit.verify(store, "world")[1] == ["events 2..2 are missing"]
    assert main(["registry", "verify", "world", "--root", root]) == 1
    assert "events 2..2 are missing" in capsys.readouterr().out


def test_a_move_whose_event_was_not_written_is_recovered(inputs, root, monkeypatch):
    publish_good(inputs, root)
    real = audit.append

    def crash(store, name, event):
        if event["action"] == "promote":
            raise KeyboardInterrupt  # the mover dies between the alias swap and the event
        return real(store, name, event)

    monkeypatch.setattr(audit, "append", crash)
    with pytest.raises(KeyboardInterrupt):
        promotion.promote(root, "world", "v1", "staging")
    monkeypatch.setattr(audit, "append", real)
    store = Store(root)
    assert read.stages(store, "world")["staging"]["version"] == "v1"
    events = audit.events(store, "world")  # reading recovers the move from the alias
    assert [(e["action"], e["to"]) for e in events] == [("publish", "v1"), ("promote", "v1")]
    assert audit.verify(store, "world") == (2, [])
    assert len(audit.events(store, "world")) == 2  # recovered once


def test_pull_verifies_and_refuses_a_tampered_or_missing_file(inputs, root, tmp_path):
    publish_good(inputs, root)
    promotion.promote(root, "world", "v1", "staging")
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
        promotion.promote(root, "world", "v1", "staging", force=True, reason="x")


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
    promotion.promote(root, "world", version, "staging")
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
    assert [e["seq"] for e in events] == list(range(1, 2 * workers + 1))  # one chain, no number lost
    assert audit.verify(store, "world") == (2 * workers, [])
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
    assert (
        main(["registry", "policy", "set", "world", "--params", str(params), "--reason", "first policy"]) == 0
    )
    assert "policy v1 in force" in capsys.readouterr().out
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
    assert [e["action"] for e in json.loads(capsys.readouterr().out)] == ["policy", "publish", "promote"]
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
    assert failing == ["compositional/replace", "compositional/swap", "zeroshot/set"]
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


def test_the_publish_component_publishes_and_promotes_the_candidate(inputs, root, tmp_path, monkeypatch):
    from kfp.dsl import Dataset, Model

    from compclip.components.publish.component import publish as publish_op

    monkeypatch.setenv("COMPCLIP_ACTOR", "")
    monkeypatch.delenv("COMPCLIP_ACTOR")  # unset here, and again after the test (the component sets it)
    # the comparison names the candidate "tuned": its model and report are picked by that name
    model = Model(name="m", uri=str(inputs / "model"), metadata={"method": "tuned"})
    other = Model(name="o", uri=str(tmp_path / "nothing"), metadata={"method": "clip"})
    report = Dataset(name="r", uri=str(inputs / "good"), metadata={"name": "tuned"})
    comparison = Dataset(name="c", uri=str(inputs / "compare-good"))
    out = Dataset(name="published", uri=str(tmp_path / "published"))
    registry = {"root": root, "name": "world", "candidate": "tuned"}
    publish_op.python_func(run_id="run-7", models=[other, model], reports=[report], comparison=comparison,
                           registry=registry, published=out)  # fmt: skip
    record = json.loads((tmp_path / "published" / "published.json").read_text())
    assert record["version"] == "v1" and record["run_id"] == "run-7"
    assert record["promotion"]["promoted"] and record["promotion"]["alias"]["version"] == "v1"
    assert resolve(root, "world", "staging").rstrip("/").endswith("registry/world/v1")
    assert read.show(Store(root), "world", "v1")["lineage"]["run_id"] == "run-7"
    # the step retried (KFP retries a failed task): the same version, staging already there
    publish_op.python_func(run_id="run-7", models=[other, model], reports=[report], comparison=comparison,
                           registry=registry, published=out)  # fmt: skip
    again = json.loads((tmp_path / "published" / "published.json").read_text())
    assert again["version"] == "v1" and not again["promotion"]["promoted"]
    assert [e["by"] for e in audit.events(Store(root), "world")] == ["kfp-run/run-7"] * 2
