from compclip.components.evalsets.component import evalsets_build
from compclip.images import image


def test_runs_in_the_core_image_with_its_params_section_and_a_typed_output():
    spec = evalsets_build.component_spec
    assert spec.implementation.container.image == image("core")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["evalsets"].type == "system.Dataset@0.0.1"
