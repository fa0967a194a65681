"""Fine-tuning as a Kubeflow component: `compclip train` with DeGLA, NegCLIP or plain CLIP."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def train(
    base: Input[Model], method: str, data: Input[Dataset], negatives: Input[Dataset], config: dict,
    model: Output[Model], gpus: int = 1, nodes: int = 1, s3_secret: str = "",
):  # fmt: skip
    """Fine-tune ``base`` with ``method`` (degla, negclip, clip) on ``data``; ``config``: params `train`.

    One process per GPU (``gpus``); ``nodes`` > 1: a Kubeflow Trainer TrainJob of ``nodes`` x
    ``gpus`` (S3 credentials from the Secret ``s3_secret``), its model copied into ``model``."""
    from compclip.cli import run

    if nodes > 1:
        from compclip.train.trainjob import pipeline_train

        pipeline_train(base.uri, data.uri, f"{negatives.uri}/negatives.json", method, config,
                       f"{model.uri}.trainjob", model.path, nodes, gpus, s3_secret)  # fmt: skip
    else:
        argv = ["train", "--method", method, "--model", base.path, "--data", data.path, "--out", model.path]
        argv += ["--negatives", f"{negatives.path}/negatives.json", "--processes", str(max(1, gpus))]
        run(argv, params={"train": config})
    model.metadata["method"] = method
