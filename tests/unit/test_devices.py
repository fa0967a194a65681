"""Every stage chooses its device through one function: the same names accepted, the same refusals."""

import pytest
import torch

from compclip.devices import resolve_device
from compclip.errors import UserError


def test_auto_is_cuda_only_where_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:0", ""])
def test_an_unknown_name_is_refused_with_the_accepted_ones(name):
    with pytest.raises(UserError, match="use one of auto, cpu, cuda"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_device_is_refused():
    with pytest.raises(UserError, match="no CUDA device"):
        resolve_device("cuda")
