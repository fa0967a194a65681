"""Fine-tuning as a Kubeflow component: `compclip train` with DeGLA, NegCLIP or plain CLIP."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def train(
    base: Input[Model], method: str, data: Input[Dataset], negatives: Input[Dataset], config: dict,
    model: Output[Model],
):  # fmt: skip
    """Fine-tune ``base`` with ``method`` (degla, negclip, clip) on ``data``; ``config``: params `train`."""
    from compclip.cli import run

    argv = ["train", "--method", method, "--model", base.path, "--data", data.path, "--out", model.path]
    run([*argv, "--negatives", f"{negatives.path}/negatives.json"], params={"train": config})
    model.metadata["method"] = method
