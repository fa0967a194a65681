"""LLaVA on VQA as Kubeflow components: one shard's `compclip vqa-pmi predict --shard i/n` (a GPU
task) and `compclip vqa-pmi analyze` over every shard's predictions."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def vqa_predict(
    questions: str, annotations: str, images: str, part: str, work_dir: str, config: dict,
    predictions: Output[Dataset],
):  # fmt: skip
    """LLaVA's answers to shard ``part`` (``i/n``) of the questions (VQAv2: ``annotations`` too;
    TextVQA: empty); ``work_dir`` as in GenPairs."""
    from compclip.cli import run

    argv = ["vqa-pmi", "predict", "--images", images, "--out", predictions.path, "--shard", part]
    argv += ["--questions", questions, *(["--annotations", annotations] if annotations else [])]
    if work_dir:
        argv += ["--work-dir", work_dir]
    run(argv, params={"vqa_pmi": config})
    predictions.metadata["shard"] = part


@dsl.component(base_image=image("gen"), install_kfp_package=False)
def vqa_analyze(
    questions: str, annotations: str, predictions: Input[list[Dataset]], pmi: str, config: dict,
    analysis: Output[Dataset],
):  # fmt: skip
    """Accuracy and yes-bias against PMI from every shard's predictions; an HTML report."""
    from compclip.cli import run

    argv = ["vqa-pmi", "analyze", "--pmi", pmi, "--out", analysis.path]
    argv += ["--questions", questions, *(["--annotations", annotations] if annotations else [])]
    run([*argv, "--predictions", *[p.path for p in predictions]], params={"vqa_pmi": config})
