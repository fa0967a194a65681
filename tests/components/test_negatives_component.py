import pytest

from compclip.components.negatives.component import (
    negatives_generate,
    negatives_generate_llm,
    negatives_generator,
)
from compclip.errors import UserError
from compclip.images import image


def test_rules_run_in_the_core_image_and_the_llm_in_the_gen_image_with_typed_outputs():
    for component, family in ((negatives_generate, "core"), (negatives_generate_llm, "gen")):
        spec = component.component_spec
        assert spec.implementation.container.image == image(family)
        assert spec.inputs["config"].type == "Dict"
        assert spec.outputs["negatives"].type == "system.Dataset@0.0.1"


def test_the_generator_choice_is_the_configs_with_rules_by_default():
    assert negatives_generator.python_func(config={"generator": "llm", "per_type": 2}) == "llm"
    assert negatives_generator.python_func(config={"per_type": 2}) == "rules"
    with pytest.raises(UserError, match="colour"):
        negatives_generator.python_func(config={"colour": "red"})
