import pytest
from kfp.dsl import Model

from compclip.components.base_model.component import base_model
from compclip.errors import UserError
from compclip.models import load_model


def test_a_given_model_becomes_a_folder_that_loads_as_that_model(tmp_path):
    model = Model(name="model", uri=str(tmp_path / "base"))
    base_model.python_func(source="compclip-tiny-rn", model=model)
    assert model.metadata["source"] == "compclip-tiny-rn"
    assert load_model(str(tmp_path / "base")).name == "compclip-tiny-rn"


def test_an_unknown_source_fails_before_any_training(tmp_path):
    with pytest.raises(UserError, match="no-such-model"):
        base_model.python_func(source="no-such-model", model=Model(name="model", uri=str(tmp_path / "m")))
