import json

from kfp.dsl import Dataset, Model

from compclip.components.publish.component import publish
from compclip.images import image


def test_runs_in_the_core_image_and_takes_the_collected_models_and_reports():
    spec = publish.component_spec
    assert spec.implementation.container.image == image("core")
    assert spec.inputs["models"].is_artifact_list and spec.inputs["reports"].is_artifact_list


def test_an_empty_registry_root_publishes_nothing(tmp_path):
    out = Dataset(name="published", uri=str(tmp_path / "published"))
    model = Model(name="m", uri=str(tmp_path / "m"), metadata={"method": "degla"})
    registry = {"root": "", "name": "world-degla", "candidate": "degla"}
    comparison = Dataset(name="c", uri=str(tmp_path))
    publish.python_func(
        run_id="r", models=[model], reports=[], comparison=comparison, registry=registry, published=out
    )
    assert json.loads((tmp_path / "published" / "published.json").read_text()) == {"published": False}
