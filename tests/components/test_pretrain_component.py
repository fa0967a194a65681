from compclip.components.pretrain.component import pretrain
from compclip.images import image


def test_runs_in_the_train_image_with_its_params_section_and_a_typed_output():
    spec = pretrain.component_spec
    assert spec.implementation.container.image == image("train")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["model"].type == "system.Model@0.0.1"
