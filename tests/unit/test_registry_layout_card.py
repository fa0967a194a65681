"""Registry layout (roots, names, versions, keys) and the model card, both pure."""

import os
import subprocess
import sys

import pytest

from compclip.errors import UserError
from compclip.registry import layout
from compclip.registry.card import render
from compclip.registry.gates import GatesConfig, evaluate_gates


def test_roots_names_versions_and_keys():
    assert layout.parse_root("s3://bucket") == ("bucket", "")
    assert layout.parse_root("s3://bucket/team/models/") == ("bucket", "team/models")
    for bad in ("/local/path", "s3://", "s3://B_ad/x", "gs://bucket"):
        with pytest.raises(UserError, match="registry root"):
            layout.parse_root(bad)
    assert layout.version_dir("world-degla", "v12") == "registry/world-degla/v12/"
    assert layout.alias_key("world", "production") == "aliases/world/production.json"
    for bad in ("v0", "3", "v-1", "v01", ""):
        with pytest.raises(UserError, match="invalid version"):
            layout.version_number(bad)
    with pytest.raises(UserError, match="invalid model name"):
        layout.version_dir("../etc", "v1")
    with pytest.raises(UserError, match="unknown stage"):
        layout.alias_key("world", "prod")
    assert layout.join("s3://b/p/", "registry/x/v1/") == "s3://b/p/registry/x/v1/"


def test_audit_keys_are_numbered_and_sort_by_number():
    keys = [layout.audit_key("world", seq) for seq in (1, 9, 10, 12345678)]
    assert keys == sorted(keys) and keys[0] == "audit/world/00000001.json"
    assert [layout.audit_seq(key) for key in keys] == [1, 9, 10, 12345678]
    for foreign in ("audit/world/1.json", "audit/world/00000001.json.bak", "audit/world/x.json"):
        assert layout.audit_seq(foreign) is None


def test_the_actor_is_named_even_for_a_uid_without_a_name(monkeypatch):
    from compclip.registry import audit

    monkeypatch.delenv("COMPCLIP_ACTOR", raising=False)

    def no_name():
        raise KeyError("getpwuid(): uid not found: 10001")

    monkeypatch.setattr(audit.getpass, "getuser", no_name)
    assert audit.actor().startswith(f"uid{os.getuid()}@")
    monkeypatch.setenv("COMPCLIP_ACTOR", "kfp-run/r1")
    assert audit.actor() == "kfp-run/r1"


COMPARISON = {
    "baseline": "base",
    "ci": 0.9,
    "metrics": {
        "base": {"zeroshot/w/acc": 0.6, "zeroshot/w/gap": 0.25, "compositional/swap/mean_acc": 0.5},
        "degla": {"zeroshot/w/acc": 0.61, "zeroshot/w/gap": 0.1, "compositional/swap/mean_acc": 0.9},
    },
    "delta": {"degla": {"zeroshot/w/acc": 0.01, "zeroshot/w/gap": -0.15, "compositional/swap/mean_acc": 0.4}},
    "paired": {
        "degla": {
            "compositional/swap/mean_acc": {
                "change": 0.4,
                "ci_low": 0.35,
                "ci_high": 0.45,
                "n": 2000,
                "dropped": 0,
            },
            "zeroshot/w/gap": {"change": -0.15, "ci_low": -0.2, "ci_high": -0.1, "n": 110},
        }
    },
}
LINEAGE = {
    "name": "world",
    "version": "v3",
    "created_at": "2026-11-29T23:00:00+00:00",
    "by": "ops@host",
    "candidate": "degla",
    "git_commit": "abc123",
    "run_id": "run-7",
    "inputs": {
        "data": {"uri": "data/finetune", "sha256": "d" * 64},
        "negatives": {"uri": "x.json", "sha256": None},
    },
}
MANIFEST = {
    "model_name": "compclip-tiny-rn",
    "training": {"base": "models/base", "config": {"method": "degla"}},
    "files": {"open_clip_model.safetensors": "a" * 64},
}


def test_card_holds_identity_inputs_every_benchmark_and_the_gap():
    gates = evaluate_gates(COMPARISON, "degla", GatesConfig())
    card = render(MANIFEST, LINEAGE, COMPARISON, gates)
    assert card.startswith("# world v3\n")
    assert "`models/base` (compared as `base`)" in card and "| method | degla |" in card
    assert "| git commit | abc123 |" in card and "| pipeline run | run-7 |" in card
    assert f"| data | `data/finetune` | `{'d' * 64}` |" in card
    assert "| negatives | `x.json` | not recorded" in card
    assert "90% paired CI" in card
    assert "| compositional/swap/mean_acc | 0.5000 | 0.9000 | +0.4000 | [+0.3500, +0.4500] | 2000 |" in card
    assert "| zeroshot/w/acc | 0.6000 | 0.6100 | +0.0100 | - | - |" in card  # no paired CI: the difference
    assert "| w | 0.2500 | 0.1000 | -0.1500 | [-0.2000, -0.1000] | 110 |" in card  # the PMI gap table
    assert "- compositional/swap: pass" in card and "- zeroshot/w: pass" in card
    assert f"| `open_clip_model.safetensors` | `{'a' * 64}` |" in card


def test_the_registry_never_imports_torch():
    """Publishing, promoting and resolving stay light: a deploy or a promotion must not pay for torch."""
    code = "import sys, compclip.registry.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
