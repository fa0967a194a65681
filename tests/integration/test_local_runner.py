"""The local runner: a task in a custom image runs as a subprocess of this venv without kfp's
warning that its image is not a Python one (every task of compclip's pipelines would print it)."""

import warnings

import pytest
from kfp import dsl

from compclip.images import image
from compclip.pipelines.local import execute

pytestmark = pytest.mark.integration


@dsl.component(base_image=image("core"))
def hello(name: str) -> str:
    return f"hello {name}"


@dsl.pipeline(name="hello")
def greeting(name: str = "world"):
    hello(name=name)


def test_a_task_in_a_custom_image_runs_here_without_the_image_warning(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = execute(greeting, {"name": "compclip"}, tmp_path, cache=False)
    assert len(runs) == 1 and list(runs[0].glob("hello/executor_output.json"))
    assert not [w for w in caught if "base image" in str(w.message)]
