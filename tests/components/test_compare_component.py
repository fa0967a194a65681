from compclip.components.compare.component import compare
from compclip.images import image


def test_takes_the_collected_reports_and_types_its_outputs_for_the_kubeflow_ui():
    spec = compare.component_spec
    assert spec.implementation.container.image == image("train")
    assert spec.inputs["tuned"].is_artifact_list
    assert {n: o.type for n, o in spec.outputs.items()} == {
        "comparison": "system.Dataset@0.0.1",
        "html": "system.HTML@0.0.1",
        "metrics": "system.Metrics@0.0.1",
    }
