import json

from kfp.dsl import Dataset, Model

from compclip.components.lineage.component import lineage_record


def _artifact(cls, path, **metadata):
    path.mkdir(parents=True)
    (path / "data.txt").write_text(path.name)
    return cls(name=path.name, uri=str(path), metadata=metadata)


def test_records_every_output_and_every_params_section(tmp_path):
    a = {
        n: _artifact(Dataset, tmp_path / n)
        for n in ("world", "finetune", "pmi", "evalsets", "negatives", "cmp")
    }
    sections = {
        f"{s}_params": {"seed": 1}
        for s in ("world", "finetune", "pmi", "evalsets", "pretrain", "negatives", "train", "evaluate")
    }
    out = Dataset(name="lineage", uri=str(tmp_path / "lineage"))
    lineage_record.python_func(
        run_id="r1", commit="abc", base_model="", corpus="", world=a["world"], finetune=a["finetune"],
        pmi=a["pmi"], evalsets=a["evalsets"], negatives=a["negatives"],
        base_report=_artifact(Dataset, tmp_path / "rb", name="base"),
        models=[_artifact(Model, tmp_path / "md", method="degla")],
        reports=[_artifact(Dataset, tmp_path / "rd", name="degla")], comparison=a["cmp"], lineage=out,
        **sections,
    )  # fmt: skip
    manifest = json.loads((tmp_path / "lineage" / "lineage.json").read_text())
    assert manifest["run_id"] == "r1" and manifest["git_commit"] == "abc"
    assert set(manifest["outputs"]) == {"world", "finetune", "pmi", "evalsets", "negatives", "model-degla",
                                        "report-base", "report-degla", "compare"}  # fmt: skip
    assert manifest["params"]["train"] == {"seed": 1}
    assert list(manifest["outputs"]["pmi"]["files"]) == ["data.txt"]
