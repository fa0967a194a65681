"""Fine-tuning as a Kubeflow component: `compclip train` with DeGLA, NegCLIP or plain CLIP."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def train(
    base: Input[Model], method: str, data: Input[Dataset], negatives: Input[Dataset], config: dict,
    model: Output[Model], gpus: int = 1, nodes: int = 1, s3_secret: str = "", work_root: str = "",
):  # fmt: skip
    """Fine-tune ``base`` with ``method`` (degla, negclip, clip) on ``data``; ``config``: params `train`.

    One process per GPU (``gpus``); ``nodes`` > 1: a Kubeflow Trainer TrainJob of ``nodes`` x
    ``gpus`` (S3 credentials from the Secret ``s3_secret``), its model copied into ``model``.
    ``work_root``: an s3:// prefix for the checkpoints, as for pretrain."""
    if nodes > 1:
        from compclip.train.trainjob import pipeline_train

        pipeline_train(base.uri, data.uri, f"{negatives.uri}/negatives.json", method, config,
                       f"{model.uri}.trainjob", model.path, nodes, gpus, s3_secret)  # fmt: skip
        return
    from compclip.config import from_dict, override
    from compclip.errors import UserError
    from compclip.train.launch import job, run
    from compclip.train.loop import TrainConfig
    from compclip.workfolders import task_work_dir

    settings = override(from_dict(TrainConfig, config, "train"), method=method)
    inputs = {"model": base.path, "data": data.path, "negatives": f"{negatives.path}/negatives.json"}
    work = task_work_dir(work_root, "train", base.uri, data.uri, negatives.uri, method, config)
    inputs |= {"out": model.path, "work_dir": work}
    if run(job("train", inputs, settings, settings.data.batch_size), max(1, gpus)):
        raise UserError("training stopped in one of its processes: its error is the line above")
    model.metadata["method"] = method
