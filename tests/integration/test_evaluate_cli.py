"""`compclip evaluate` end to end: zero-shot set + SugarCrepe + Flickr-Order outputs, and its errors."""

import base64
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.cli import main

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "compclip.cli", "evaluate"]


def write_evalset(folder, n=24, missing=()):
    """A two-object eval set: PMI -inf for the first 4 items, then increasing."""
    (folder / "images").mkdir(parents=True)
    for i in set(range(n)) - set(missing):
        Image.new("RGB", (32, 32), (10 * i, 100, 200)).save(folder / f"images/{i}.png")
    classes = ["cube", "sphere", "cone"]
    pq.write_table(pa.table({
        "id": [f"i{i}" for i in range(n)], "image": [f"images/{i}.png" for i in range(n)],
        "label": [classes[i % 3] for i in range(n)], "accessory": [classes[(i + 1) % 3] for i in range(n)],
        "pmi": [-np.inf if i < 4 else float(i) for i in range(n)], "stratum": [i % 2 for i in range(n)],
    }), folder / "items.parquet")  # fmt: skip
    (folder / "evalset.json").write_text(json.dumps({"kind": "zeroshot", "name": "toy", "classes": classes}))
    return folder


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_writes_metrics_results_plots_and_report(shared, tmp_path):
    evalset = write_evalset(tmp_path / "toy", missing={5})
    sugar = shared / "data" / "sugarcrepe" / "swap_obj.json"
    names = sorted({r["filename"] for r in json.loads(sugar.read_text()).values()})[:4]
    (tmp_path / "coco").mkdir()
    for name in names:
        Image.new("RGB", (40, 30), (90, 90, 200)).save(tmp_path / "coco" / name)
    (tmp_path / "flickr").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "flickr" / "1000268201_693b08cb0e.jpg")
    out = tmp_path / "out"
    params = tmp_path / "params.yaml"
    params.write_text(
        "evaluate:\n  runtime: {workers: 0, batch_size: 4}\n  stats: {n_bins: 3, n_boot: 100}\n"
        "  max_reject_share: 1.0\n"  # only a few of the benchmarks' images exist here
    )
    result = run("--model", "compclip-tiny-rn", "--out", out, "--params", params, "--device", "cpu",
                 "--zeroshot", evalset, "--sugarcrepe", sugar, "--sugarcrepe-images", tmp_path / "coco",
                 "--flickr-order", shared / "data/flickr8k/Flickr8k.token.txt", "--order-max-images", 2,
                 "--flickr-order-images", tmp_path / "flickr")  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["zeroshot/toy/n"] == 23 and metrics["zeroshot/toy/n_bins"] == 3
    assert metrics["rejects/zeroshot/toy/missing_image"] == 1
    assert 0 <= metrics["sugarcrepe/swap_obj/acc"] <= 1 and metrics["sugarcrepe/swap_obj/n"] >= 4
    assert metrics["rejects/sugarcrepe/missing_image"] == 245 - metrics["sugarcrepe/swap_obj/n"]
    assert metrics["aro/flickr_order/n"] == 5 and metrics["rejects/aro/missing_image"] == 5
    assert json.loads((out / "aro" / "flickr_order.json").read_text())["seed"] == 0
    assert len(pq.read_table(out / "results" / "sugarcrepe.parquet")) == metrics["sugarcrepe/swap_obj/n"]
    assert len(json.loads((out / "bins.json").read_text())["toy"]["bins"]) == 3
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["aro_acc.png", "sugarcrepe_acc.png", "zeroshot_toy_pmi.png"]
    html = (out / "report.html").read_text()
    png = base64.b64encode((out / "plots" / "zeroshot_toy_pmi.png").read_bytes()).decode()
    assert png in html and "sugarcrepe" in html and "<summary>PMI bins</summary><h3>toy</h3>" in html


def test_cli_image_root_mismatch_is_one_error_line(shared, tmp_path, capsys):
    sugar = str(shared / "data" / "sugarcrepe")
    code = main(["evaluate", "--model", "compclip-tiny-rn", "--out", str(tmp_path / "o"), "--workers", "0",
                 "--sugarcrepe", sugar, "--sugarcrepe-images", str(tmp_path)])  # fmt: skip
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "does the image root match the annotations" in errors[0]
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_cli_benchmark_without_image_root_is_refused(tmp_path, capsys):
    code = main(["evaluate", "--model", "compclip-tiny-rn", "--out", str(tmp_path), "--valse", "x.json"])
    assert code == 2 and "give both its annotations (--valse) and its image root" in capsys.readouterr().err


def test_cli_requires_a_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--out", str(tmp_path / "o"), "--zeroshot", str(tmp_path)])
    assert exit_.value.code == 2 and "--model" in capsys.readouterr().err


def test_cli_empty_evalset_folder_is_one_error_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["evaluate", "--model", "compclip-tiny-rn", "--out", str(tmp_path / "o"),
                 "--zeroshot", str(tmp_path / "empty")])  # fmt: skip
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "not a zero-shot eval set" in errors[0]
    assert not (tmp_path / "o").exists()
