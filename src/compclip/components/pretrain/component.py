"""Pretraining as a Kubeflow component: `compclip pretrain`, a tiny CLIP from scratch."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def pretrain(data: Input[Dataset], config: dict, model: Output[Model], work_root: str = ""):
    """Train ``config['model']`` from random weights on ``data``; ``config``: params `pretrain`.
    ``work_root``: an s3:// prefix for the checkpoints, from which the task run again resumes
    (:func:`compclip.workfolders.task_work_dir`; empty: beside the output, on the pod's disk)."""
    from compclip.config import from_dict
    from compclip.pretrain import PretrainConfig, pretrain
    from compclip.workfolders import task_work_dir

    work = task_work_dir(work_root, "pretrain", data.uri, config)
    pretrain(data.path, model.path, from_dict(PretrainConfig, config, "pretrain"), work_dir=work)
