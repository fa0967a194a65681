from compclip.images import image
from components.negatives.component import negatives_generate


def test_runs_in_the_core_image_with_its_params_section_and_a_typed_output():
    spec = negatives_generate.component_spec
    assert spec.implementation.container.image == image("core")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["negatives"].type == "system.Dataset@0.0.1"
