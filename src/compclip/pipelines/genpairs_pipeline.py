"""The first paper's evaluation data on real models as one Kubeflow pipeline .

::

    genpairs pairs (CPU) ─► genpairs captions (the LM, one GPU)
        ─► ParallelFor(i/n: genpairs images, FLUX, a GPU each) ─► genpairs merge
    paste accessories (FLUX, one GPU) ─► ParallelFor(i/n: paste run, CPU) ─► paste merge  (paste_images)
    ParallelFor(i/n: vqa-pmi predict, a GPU each) ─► vqa-pmi analyze                  (vqa_questions)

Each GPU task holds one model (the LM or FLUX or LLaVA), so each fits one card. Each generator's
settings are one dict parameter named after its ``params.yaml`` section (``genpairs``, ``paste``,
``vqa_pmi``), defaulting to the file's values (``build(params)``). GPU tasks ask for GPUs and read
S3 credentials exactly as the main pipeline's GPU tasks do. With ``work_root`` (an s3:// prefix) a
task run again resumes from the chunks it finished: a retry of a task outside a loop (the captions,
the accessories), or, for the shards inside ParallelFor (where the backend ignores retries), the
run retried.
"""

from kfp import dsl

from compclip.components.genpairs.component import (
    genpairs_captions,
    genpairs_images,
    genpairs_merge,
    genpairs_pairs,
    shard_plan,
)
from compclip.components.paste.component import paint_accessories, paste_merge, paste_shard
from compclip.components.vqa_pmi.component import vqa_analyze, vqa_predict
from compclip.pipelines.tasks import RETRIES, S3_SECRET, Accelerators, configure

NAME = "compclip-gen"
SECTIONS = ("genpairs", "paste", "vqa_pmi")
PUBLISH_SECTIONS: tuple[str, ...] = ()


def build(
    params: dict[str, dict], accelerators: bool = True, parallel_training: int = 0, s3_secret: str = S3_SECRET
):
    """The pipeline with ``params``' generator sections as its defaults.

    ``s3_secret``: the Kubernetes Secret of the S3 credentials (as in the main pipeline);
    ``accelerators=False`` leaves out the GPU requests (kfp's local runner cannot resolve their
    parameters inside loops); ``parallel_training`` caps the shards that run at once (0: all).
    """
    missing = [s for s in SECTIONS if s not in params]
    if missing:
        raise ValueError(f"params lack the sections {missing}")
    defaults = {s: params[s] for s in SECTIONS}

    @dsl.pipeline(name=NAME, description="GenPairs, ImageNet-paste and LLaVA-on-VQA data on GPUs, sharded")
    def compclip_gen(
        pmi_table: str,
        genpairs: dict = defaults["genpairs"],
        paste: dict = defaults["paste"],
        vqa_pmi: dict = defaults["vqa_pmi"],
        n_shards: int = 4,
        work_root: str = "",
        paste_images: str = "",
        paste_accessories: str = "",
        vqa_questions: str = "",
        vqa_annotations: str = "",
        vqa_images: str = "",
        accelerator: str = "nvidia.com/gpu",
        gpus: int = 1,
        gpu_node_selector: dict = {},  # noqa: B006
        gpu_tolerations: list = [],  # noqa: B006
    ):
        """``pmi_table``: the PMI table (a URI, e.g. LAION-400M's on S3); ``n_shards``: GPU tasks per
        generator; ``paste_images`` (an ImageNet-style folder) and ``vqa_questions`` (VQAv2 or
        TextVQA questions, with ``vqa_images``) switch on ImageNet-paste and the VQA analysis."""

        gpu = Accelerators(accelerators, accelerator, gpus, gpu_node_selector, gpu_tolerations)

        def on_gpu(task: dsl.PipelineTask, name: str) -> dsl.PipelineTask:
            return gpu.request(configure(task, "gen", name, s3_secret))

        plan = configure(shard_plan(shards=n_shards), "core", "shard plan", s3_secret)
        pairs = configure(genpairs_pairs(pmi=pmi_table, config=genpairs), "core", "genpairs pairs", s3_secret)
        captions = genpairs_captions(pmi=pmi_table, pairs=pairs.outputs["pairs"], work_root=work_root,
                                     config=genpairs)  # fmt: skip
        on_gpu(captions, "genpairs captions").set_retry(RETRIES)
        with dsl.ParallelFor(plan.output, parallelism=parallel_training) as part:
            painted = genpairs_images(captions=captions.outputs["captions"], part=part, work_root=work_root,
                                      config=genpairs)  # fmt: skip
            on_gpu(painted, "genpairs images")
        merged = genpairs_merge(shards=dsl.Collected(painted.outputs["shard"]))
        configure(merged, "gen", "genpairs merge", s3_secret)

        with dsl.If(paste_images != "", name="imagenet-paste"):
            cache = paint_accessories(images=paste_images, pmi=pmi_table, accessories=paste_accessories,
                                      config=paste)  # fmt: skip
            on_gpu(cache, "paste accessories").set_retry(RETRIES)
            with dsl.ParallelFor(plan.output, parallelism=parallel_training) as part:
                pasted = paste_shard(images=paste_images, pmi=pmi_table, accessories=paste_accessories,
                                     cache=cache.outputs["cache"], part=part, work_root=work_root,
                                     config=paste)  # fmt: skip
                configure(pasted, "gen", "paste shard", s3_secret)
            pasted_set = paste_merge(shards=dsl.Collected(pasted.outputs["shard"]))
            configure(pasted_set, "gen", "paste merge", s3_secret)

        with dsl.If(vqa_questions != "", name="llava-vqa"):
            with dsl.ParallelFor(plan.output, parallelism=parallel_training) as part:
                answers = vqa_predict(questions=vqa_questions, annotations=vqa_annotations, images=vqa_images,
                                      part=part, work_root=work_root, config=vqa_pmi)  # fmt: skip
                on_gpu(answers, "vqa predict")
            every = dsl.Collected(answers.outputs["predictions"])
            analysis = vqa_analyze(questions=vqa_questions, annotations=vqa_annotations, predictions=every,
                                   pmi=pmi_table, config=vqa_pmi)  # fmt: skip
            configure(analysis, "gen", "vqa analyze", s3_secret)

    return compclip_gen
