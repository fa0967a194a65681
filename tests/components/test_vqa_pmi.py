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
    calls = []
    monkeypatch.setattr("compclip.cli.run", lambda argv, params=None: calls.append((argv, params)))
    shards = [Dataset(name=f"p{i}", uri=str(tmp_path / f"p{i}")) for i in range(2)]
    vqa_analyze.python_func(questions="q.json", annotations="", predictions=shards, pmi="pmi", config={},
                            analysis=Dataset(name="a", uri=str(tmp_path / "a")))  # fmt: skip
    vqa_predict.python_func(questions="q.json", annotations="a.json", images="img", part="0/2", work_dir="",
                            config={}, predictions=Dataset(name="p", uri="x"))  # fmt: skip
    (analyze, params), (predict, _) = calls
    assert analyze[analyze.index("--predictions") + 1 :] == [s.path for s in shards]
    assert "--annotations" not in analyze and params == {"vqa_pmi": {}}
    assert predict[predict.index("--annotations") + 1] == "a.json"
