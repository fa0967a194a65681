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
    from compclip.config import from_dict, override
    from compclip.train.loop import TrainConfig
    from compclip.train.run import train as fine_tune

    settings = override(from_dict(TrainConfig, config, "train"), method=method)
    fine_tune(base.path, data.path, f"{negatives.path}/negatives.json", model.path, settings)
    model.metadata["method"] = method
