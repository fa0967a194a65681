from compclip.components.train.component import train
from compclip.images import image


def test_runs_in_the_train_image_with_its_params_section_and_a_typed_output():
    spec = train.component_spec
    assert spec.implementation.container.image == image("train")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["model"].type == "system.Model@0.0.1"


def test_takes_the_gpus_and_nodes_of_a_multi_process_or_trainjob_run():
    inputs = train.component_spec.inputs
    assert inputs["gpus"].default == 1 and inputs["nodes"].default == 1 and inputs["s3_secret"].default == ""
