"""Image names and the exact requirements an image installs."""

from pathlib import Path

import pytest

from compclip import __version__, images
from compclip.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def report(*pairs):
    return {"install": [{"metadata": {"name": name, "version": version}} for name, version in pairs]}


def graph(**requires):
    """A resolution whose packages (version 1) require the named ones, e.g. ``graph(kfp=["requests"])``."""
    return {
        "install": [
            {"metadata": {"name": name.replace("_", "-"), "version": "1", "requires_dist": needs}}
            for name, needs in requires.items()
        ]
    }


def test_references_name_family_version_and_accelerator():
    assert images.image("core") == f"localhost/compclip/compclip-core:{__version__}"
    assert images.image("train", "reg.example/team/", accelerator="cuda") == (
        f"reg.example/team/compclip-train:{__version__}-cuda"
    )
    unknown, latest, core_cuda = {"family": "web"}, {"tag": "latest"}, {"accelerator": "cuda"}
    for bad in (unknown, {"family": "core", **latest}, {"family": "core", **core_cuda}):
        with pytest.raises(UserError):
            images.image(**bad)


def test_lock_keeps_this_variants_pins_and_leaves_out_the_others():
    resolved = report(("torch", "2.14.1"), ("Triton", "3.8.0"), ("Open_Clip_Torch", "3.3.0"))
    resolved["install"].append({"metadata": {"name": "compclip", "version": "0.1.0"}})
    pins = {"torch": "2.14.1", "open-clip-torch": "3.3.0"}
    assert images.lock(resolved, pins, {"triton": "3.8.0"}) == ["open-clip-torch==3.3.0", "torch==2.14.1"]
    assert images.lock(resolved, {**pins, "triton": "3.8.0"}, {}) == [
        "open-clip-torch==3.3.0",
        "torch==2.14.1",
        "triton==3.8.0",
    ]


def test_lock_refuses_unpinned_or_differently_pinned_packages():
    with pytest.raises(UserError, match="not pinned"):
        images.lock(report(("numpy", "2.4.6")), {}, {})
    with pytest.raises(UserError, match=r"pin 2\.4\.5"):
        images.lock(report(("numpy", "2.4.6")), {"numpy": "2.4.5"}, {})


def test_constraints_sets_are_exact_pins_and_disjoint():
    cpu = images.read_pins(REPO / "constraints.txt")
    cuda = images.read_pins(REPO / "constraints-cuda.txt")
    assert {"torch", "torchvision", "numpy", "kfp"} <= cpu.keys()
    assert "triton" in cuda and not cpu.keys() & cuda.keys()


def test_read_pins_refuses_a_range(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# comment\nnumpy==2.4.6\ntorch>=2\n")
    with pytest.raises(UserError, match="torch>=2"):
        images.read_pins(path)


def test_every_family_carries_kfp():
    assert all("pipeline" in extras for extras in images.EXTRAS.values())
    assert set(images.EXTRAS) == set(images.FAMILIES)


def test_lock_leaves_out_what_only_kfps_client_needs_and_checks_the_set():
    resolved = graph(
        compclip=["kfp; extra == 'pipeline'", "kubernetes<31,>=30; extra == 'pipeline'", "wheel-tools"],
        kfp=["pyyaml", "kubernetes<31", "requests"],
        kubernetes=["requests", "pyyaml"],
        requests=["idna"],
        idna=[],
        pyyaml=[],
        wheel_tools=["requests; extra == 'http'"],
    )
    pins = {name: "1" for name in ("kfp", "kubernetes", "requests", "idna", "pyyaml", "wheel-tools")}
    assert images.lock(resolved, pins, {}, frozenset({"kubernetes", "requests", "idna"})) == [
        "kfp==1",
        "pyyaml==1",
        "wheel-tools==1",
    ]
    with pytest.raises(UserError, match="not resolved: torch"):
        images.lock(resolved, pins, {}, frozenset({"kubernetes", "requests", "idna", "torch"}))
    with pytest.raises(UserError, match="only left-out packages require idna"):
        images.lock(resolved, pins, {}, frozenset({"kubernetes", "requests"}))
    with pytest.raises(UserError, match="kubernetes requires pyyaml"):
        images.lock(resolved, pins, {}, frozenset({"requests", "idna", "pyyaml"}))


def test_the_core_image_leaves_out_only_kfps_client_side():
    assert images.LEFT_OUT == {"core": images.KFP_CLIENT}
    assert not images.KFP_CLIENT & {"kfp", "pyyaml", "urllib3", "typing-extensions", "click", "certifi"}
    assert {images.canonical(name) for name in images.KFP_CLIENT} == images.KFP_CLIENT


def _checkout(root: Path) -> Path:
    for name in images.BUILT_FROM:
        path = root / name
        if name.endswith((".toml", ".txt", ".md")):
            path.write_text(f"{name}\n")
        else:
            path.mkdir(parents=True)
            (path / "a.py").write_text("x = 1\n")
    return root


def test_the_content_tag_changes_with_any_file_an_image_is_built_from_and_only_then(tmp_path):
    root = _checkout(tmp_path)
    tag = images.content_tag(root)
    assert tag.startswith(f"{__version__}-") and len(tag) == len(__version__) + 13
    (root / "src/compclip/__pycache__").mkdir()
    (root / "src/compclip/__pycache__/a.cpython-311.pyc").write_bytes(b"bytecode")
    assert images.content_tag(root) == tag  # bytecode is not what an image is built from
    (root / "docker/a.py").write_text("x = 2\n")
    assert images.content_tag(root) != tag
    (root / "constraints.txt").unlink()
    with pytest.raises(UserError, match=r"constraints\.txt is missing"):
        images.content_tag(root)


def test_pushed_digests_pin_the_references_and_a_new_tag_starts_the_file_afresh(tmp_path):
    digests, one, two = tmp_path / "digests.json", f"sha256:{1:064x}", f"sha256:{2:064x}"
    images.record_digest(digests, "reg.example/ml", "0.1.0-a", "core", one)
    images.record_digest(digests, "reg.example/ml", "0.1.0-a", "train-cuda", two)
    pinned = images.read_digests(digests)
    assert pinned.ref("core") == f"reg.example/ml/compclip-core@{one}"  # no tag beside a digest
    assert pinned.ref("train", accelerator="cuda") == f"reg.example/ml/compclip-train@{two}"
    with pytest.raises(UserError, match="make push ACCELERATOR=cuda"):
        pinned.ref("gen", accelerator="cuda")
    images.record_digest(digests, "reg.example/ml", "0.1.0-b", "core", two)
    assert images.read_digests(digests).digests == {"core": two}
    with pytest.raises(UserError, match="not a sha256 digest"):
        images.record_digest(digests, "reg.example/ml", "0.1.0-b", "core", "latest")
