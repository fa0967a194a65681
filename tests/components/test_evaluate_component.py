from compclip.components.evaluate.component import evaluate
from compclip.images import image


def test_runs_in_the_train_image_and_types_its_outputs_for_the_kubeflow_ui():
    spec = evaluate.component_spec
    assert spec.implementation.container.image == image("train")
    outputs = {name: out.type for name, out in spec.outputs.items()}
    assert outputs == {"report": "system.Dataset@0.0.1", "html": "system.HTML@0.0.1",
                       "metrics": "system.Metrics@0.0.1"}  # fmt: skip
    assert spec.inputs["model"].type == "system.Model@0.0.1"
