"""The demo's showcase: a pass and a fail picked from a run's evaluation tables (tiny fixtures), asked
of a tiny random-weight model served on loopback by `compclip inspect`."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.cli import main
from compclip.errors import UserError
from compclip.models import create_model, save_model
from compclip.serve import showcase
from compclip.shards import ShardWriter

pytestmark = pytest.mark.integration

ITEMS = {  # key: (caption, negative)
    "00001": ("a red cube left of a blue ring", "a blue cube left of a red ring"),
    "00002": ("a green ball above a red cube", "a red ball above a green cube"),
    "00003": ("a blue ring right of a green ball", "a green ring right of a blue ball"),
    "00004": ("a red ring below a blue cube", "a blue ring below a red cube"),
}
# per item: (base margin, tuned margin); 00002: a small win, 00003: the wide win, 00004: the wide fail
MARGINS = {"00001": (0.2, 0.3), "00002": (-0.1, 0.05), "00003": (-0.3, 0.2), "00004": (-0.2, -0.4)}


def write_report(folder, which: int) -> str:
    """A report's compositional table (as `compclip evaluate` writes it) and a zero-shot one to skip."""
    (folder / "results").mkdir(parents=True)
    ids = [f"swap_att/{k}" for k in ITEMS]
    margins = [MARGINS[k][which] for k in ITEMS]
    pq.write_table(pa.table({
        "id": ids, "subset": ["swap_att"] * len(ids), "positive": [c for c, _ in ITEMS.values()],
        "positive_score": [0.5 + m for m in margins], "best_negative_score": [0.5] * len(ids),
        "correct": [m > 0 for m in margins],
    }), folder / "results" / "sugarcrepe.parquet")  # fmt: skip
    pq.write_table(pa.table({"id": ["x"]}), folder / "results" / "zeroshot_set.parquet")
    return str(folder)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run's lineage manifest over a compositional set and the base and degla reports."""
    root = tmp_path_factory.mktemp("showcase")
    compositional = root / "evalsets" / "compositional"
    (compositional / "images").mkdir(parents=True)
    records = {}
    for i, (key, (caption, negative)) in enumerate(ITEMS.items()):
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (60 * i, 100, 200)).save(buffer, format="PNG")
        (compositional / f"images/swap_att-{key}.png").write_bytes(buffer.getvalue())
        filename = f"images/swap_att-{key}.png"
        records[key] = {"filename": filename, "caption": caption, "negative_caption": negative}
    (compositional / "swap_att.json").write_text(json.dumps(records))
    outputs = {
        "evalsets": str(root / "evalsets"),
        "report-base": write_report(root / "base", 0),
        "report-degla": write_report(root / "degla", 1),
    }
    manifest = {"run_id": "run-1", "outputs": {k: {"uri": v, "files": {}} for k, v in outputs.items()}}
    (root / "lineage.json").write_text(json.dumps(manifest))
    save_model(create_model("compclip-tiny-vit", seed=1), root / "model")
    return root


def test_pick_takes_the_widest_win_over_the_base_and_the_widest_fail(run):
    manifest = json.loads((run / "lineage.json").read_text())
    win, fail = showcase.pick(*showcase.from_lineage(manifest, "degla"))
    assert (win.label, win.id, win.caption) == (showcase.WIN, "swap_att/00003", ITEMS["00003"][0])
    assert (win.base_margin, win.tuned_margin) == pytest.approx((-0.3, 0.2))
    assert (fail.label, fail.id, fail.negative) == (showcase.FAIL, "swap_att/00004", ITEMS["00004"][1])
    assert fail.image == (run / "evalsets/compositional/images/swap_att-00004.png").read_bytes()
    assert fail.instance()["candidates"] == [{"caption": ITEMS["00004"][1], "type": "swap_att"}]
    with pytest.raises(UserError, match="no output 'report-negclip'"):
        showcase.from_lineage(manifest, "negclip")


def test_a_compositional_set_in_shards_gives_the_same_cases(run):
    """The world's compositional sets keep their PNGs in shards (a record names its ``shard``): the
    cases' images are read by one range read each, the same bytes as from the older folder."""
    folder = run / "sharded"
    records = json.loads((run / "evalsets/compositional/swap_att.json").read_text())
    with ShardWriter(folder, shard_size=2) as writer:
        for record in records.values():
            name = record["filename"].removeprefix("images/")
            data = (run / "evalsets/compositional" / record["filename"]).read_bytes()
            record.update(filename=name, shard=writer.add(name, data))
    (folder / "swap_att.json").write_text(json.dumps(records))
    manifest = json.loads((run / "lineage.json").read_text())
    files, *reports = showcase.from_lineage(manifest, "degla")
    assert showcase.pick(str(folder), *reports) == showcase.pick(files, *reports)
    assert {r["shard"] for r in records.values()} == {"shards/000000.tar", "shards/000001.tar"}


def test_inspect_serves_the_model_and_asks_the_showcase(run, capsys):
    argv = ["inspect", "--model", str(run / "model"), "--lineage", str(run / "lineage.json"), "--json"]
    assert main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["case"] for s in shown] == ["swap_att/00003", "swap_att/00004"]
    for s, key in zip(shown, ["00003", "00004"], strict=True):
        answer = s["answer"]
        assert answer["specification"] == ITEMS[key][0]
        assert [c["caption"] for c in answer["candidates"]] == [ITEMS[key][1]]
        assert answer["passed"] == (answer["margin"] > 0)


def test_inspect_asks_a_running_service_about_an_image_and_its_negatives(run, capsys):
    from compclip.serve import local

    service = local.start(str(run / "model"), "tiny", run / "serve.log")
    try:
        image = str(run / "evalsets/compositional/images/swap_att-00001.png")
        caption, negative = ITEMS["00001"]
        argv = ["inspect", "--url", service.url, "--name", "tiny", "--image", image]
        argv += ["--specification", caption]
        assert main([*argv, "--negative", negative]) == 0
        # the answer's three lines (a progress bar may share stdout, cleared with a carriage return)
        out = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip()]
        at = next(i for i, line in enumerate(out) if line.startswith("specification: "))
        assert out[at].startswith(f"specification: {caption!r}")
        assert out[at + 1].startswith(f"candidate [given]: {negative!r}")
        assert out[at + 2].startswith("service answer: ")
        assert main(argv[:-2]) == 2  # an image needs its specification
        assert "--image needs --specification" in capsys.readouterr().err
    finally:
        local.stop(service)
