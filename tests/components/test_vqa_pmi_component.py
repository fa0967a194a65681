from pathlib import Path

from kfp.dsl import Dataset

from compclip.components.vqa_pmi.component import vqa_analyze, vqa_predict
from compclip.images import image


def test_runs_in_the_gen_image_with_its_params_section_and_typed_artifacts():
    spec = vqa_predict.component_spec
    assert spec.implementation.container.image == image("gen")
    assert vqa_analyze.component_spec.implementation.container.image == image("gen")
    assert spec.inputs["config"].type == "Dict"
    assert vqa_analyze.component_spec.inputs["predictions"].type == "system.Dataset@0.0.1"
    assert vqa_analyze.component_spec.inputs["predictions"].is_artifact_list


def test_analysis_reads_every_shard_and_textvqa_needs_no_annotations(monkeypatch, tmp_path):
    calls = {}
    monkeypatch.setattr("compclip.vqa.run.analyze", lambda *args: calls.setdefault("analyze", args))
    monkeypatch.setattr("compclip.vqa.run.predict", lambda *args: calls.setdefault("predict", args))
    shards = [Dataset(name=f"p{i}", uri=str(tmp_path / f"p{i}")) for i in range(2)]
    for shard in shards:
        Path(shard.path).mkdir()
        (Path(shard.path) / "predictions.jsonl").write_text("{}\n")
    vqa_analyze.python_func(questions="q.json", annotations="", predictions=shards, pmi="pmi", config={},
                            analysis=Dataset(name="a", uri=str(tmp_path / "a")))  # fmt: skip
    vqa_predict.python_func(questions="q.json", annotations="a.json", images="img", part="0/2", work_root="",
                            config={}, predictions=Dataset(name="p", uri="x"))  # fmt: skip
    _, annotations, files, pmi, *_ = calls["analyze"]
    assert files == [f"{s.path}/predictions.jsonl" for s in shards] and annotations is None and pmi == "pmi"
    assert calls["predict"][1] == "a.json" and calls["predict"][5].count == 2
