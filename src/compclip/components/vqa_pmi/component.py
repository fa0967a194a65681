"""LLaVA on VQA as Kubeflow components: one shard's `compclip vqa-pmi predict --shard i/n` (a GPU
task) and `compclip vqa-pmi analyze` over every shard's predictions."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def vqa_predict(
    questions: str, annotations: str, images: str, part: str, work_root: str, config: dict,
    predictions: Output[Dataset],
):  # fmt: skip
    """LLaVA's answers to shard ``part`` (``i/n``) of the questions (VQAv2: ``annotations`` too;
    TextVQA: empty); ``work_root`` as in GenPairs."""
    from compclip.chunks import Shard
    from compclip.config import from_dict
    from compclip.vqa.run import VqaConfig, predict
    from compclip.workfolders import task_work_dir

    settings = from_dict(VqaConfig, config, "vqa_pmi")
    predict(
        questions,
        annotations or None,
        images,
        predictions.path,
        settings,
        Shard.parse(part),
        task_work_dir(work_root, "vqa", questions, annotations, images, config),
    )
    predictions.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def vqa_analyze(
    questions: str, annotations: str, predictions: Input[list[Dataset]], pmi: str, config: dict,
    analysis: Output[Dataset],
):  # fmt: skip
    """Accuracy and yes-bias against PMI from every shard's predictions; an HTML report."""
    from compclip.config import from_dict
    from compclip.storage import expand
    from compclip.vqa.run import VqaConfig, analyze

    files = expand([p.path for p in predictions], keep=lambda path: path.endswith(".jsonl"))
    analyze(
        questions, annotations or None, files, pmi, analysis.path, from_dict(VqaConfig, config, "vqa_pmi")
    )
