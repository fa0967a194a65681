"""The whole compclip flow as one Kubeflow pipeline, on the world (the default) or a real corpus.

::

    world ──► pmi plan ─► ParallelFor(scan) ─► merge vocab ─► ParallelFor(pairs) ─► merge table
      │                                                                               │
      ├──► pretrain (no base model given) or check the base model ──┐        evalsets ◄┤
    finetune data ──────────────────────────────► negatives ◄───────┼─────────────────┘
                                                      │              ├──► evaluate base ──┐
                      ParallelFor(methods: train ─► evaluate) ──► compare ─► lineage, publish

Every stage's settings are one dict parameter named after its ``params.yaml`` section, with the
section's values as the default (``build(params)``), so a run records exactly what it ran with
and a changed setting reruns the stages downstream of it (and only those: caching is on).
Negatives run in the core image (rules) or, when the LLM makes any type (``negatives.generator:
llm``, or ``auto`` on real captions: docs/negatives.md), in the gen image on GPUs, dealt over
``negatives_shards`` tasks and merged (:func:`llm_negatives`); a small task reads which from the
settings and the fine-tuning data, and the flow branches on it.
"""

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from kfp import dsl
from kfp.dsl import Dataset, Input, Model

from compclip.components.base_model.component import base_model as base_model_op
from compclip.components.compare.component import compare as compare_op
from compclip.components.data.component import finetune_data as finetune_data_op
from compclip.components.evalsets.component import evalsets_build
from compclip.components.evaluate.component import evaluate as evaluate_op
from compclip.components.genpairs.component import shard_plan
from compclip.components.lineage.component import lineage_record
from compclip.components.negatives.component import (
    negatives_generate,
    negatives_generator,
    negatives_merge,
    negatives_shard,
)
from compclip.components.pmi.component import pmi_merge_table, pmi_merge_vocab, pmi_pairs, pmi_plan, pmi_scan
from compclip.components.pretrain.component import pretrain as pretrain_op
from compclip.components.publish.component import publish as publish_op
from compclip.components.train.component import train as train_op
from compclip.components.world.component import world_corpus
from compclip.methods import METHODS
from compclip.pipelines.tasks import RETRIES, S3_SECRET, Accelerators, configure

NAME = "compclip"
# The params.yaml sections the pipeline reads, each the config of one stage (dvc.yaml names the same).
SECTIONS = ("world", "finetune", "pmi", "evalsets", "pretrain", "negatives", "train", "evaluate")
# The section only the pipeline reads: its last stage publishes to the S3 registry (not a DVC output);
# the gates are the registry's own policy (`compclip registry policy set`), never a run parameter.
PUBLISH_SECTIONS = ("registry",)
# dvc.yaml's stages and the params.yaml section each reads: the pipeline runs the same stages
# (a test holds the two in step).
STAGES = {
    "world": "world", "finetune_world": "finetune", "pmi": "pmi", "evalsets": "evalsets",
    "pretrain": "pretrain", "negatives": "negatives", "train": "train", "evaluate": "evaluate",
    "compare": None,
}  # fmt: skip


def with_sections(names: Sequence[str], defaults: dict[str, dict] | None = None) -> Callable:
    """A pipeline function ``func(..., sections)`` as KFP reads it: its other parameters, then one
    ``dict`` parameter per section in ``names`` (defaulting to ``defaults[name]`` when given), which
    a call hands to ``func`` as ``sections`` (name -> parameter); so a section is named in one place."""

    def declare(func: Callable) -> Callable:
        own = list(inspect.signature(func).parameters.values())[:-1]
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        extra = [
            inspect.Parameter(n, kind, annotation=dict, **({"default": defaults[n]} if defaults else {}))
            for n in names
        ]

        @functools.wraps(func)
        def declared(*args: Any) -> Any:  # kfp calls a pipeline with every parameter, in order
            return func(*args[: len(own)], dict(zip(names, args[len(own) :], strict=True)))

        declared.__signature__ = inspect.Signature([*own, *extra])
        return declared

    return declare


def pmi_count(s3_secret: str = S3_SECRET):
    """The PMI sub-pipeline, its tasks reading S3 credentials from the Secret ``s3_secret``."""

    @dsl.pipeline(name="pmi")
    def pmi(corpus: str, world: Input[Dataset], shards: int, config: dict, work_root: str) -> Dataset:
        """The PMI table of ``corpus`` (empty: the world's captions), counted in two map-reduce rounds
        over at most ``shards`` parts; a merge starts only once every part of its round succeeded."""
        plan = configure(pmi_plan(corpus=corpus, world=world, shards=shards), "core", "pmi plan", s3_secret)
        with dsl.ParallelFor(plan.output) as part:
            scan = pmi_scan(corpus=corpus, world=world, part=part, config=config, work_root=work_root)
            configure(scan, "core", "pmi scan", s3_secret)  # no retries in a loop: the backend ignores them
        vocab = pmi_merge_vocab(shards=dsl.Collected(scan.outputs["shard"]), config=config)
        configure(vocab, "core", "pmi merge vocabulary", s3_secret)
        with dsl.ParallelFor(plan.output) as part:
            pairs = pmi_pairs(
                corpus=corpus, world=world, part=part, vocab=vocab.outputs["vocab"], config=config
            )
            configure(pairs, "core", "pmi pairs", s3_secret)
        merged = pmi_merge_table(
            shards=dsl.Collected(pairs.outputs["shard"]), vocab=vocab.outputs["vocab"], config=config
        )
        return configure(merged, "core", "pmi merge table", s3_secret).outputs["table"]

    return pmi


def llm_negatives(accelerators: bool = True, s3_secret: str = S3_SECRET):
    """The LLM negatives sub-pipeline: ``shards`` GPU tasks of the gen image (``compclip negatives
    generate --shard i/n``), each keeping its finished chunks under ``work_root`` so a run again
    resumes (the backend ignores retries inside a ParallelFor), then their merge (``compclip
    negatives merge``)."""

    @dsl.pipeline(name="llm-negatives")
    def negatives_by_shard(
        data: Input[Dataset], pmi: Input[Dataset], shards: int, config: dict, work_root: str,
        accelerator: str, gpus: int, gpu_node_selector: dict, gpu_tolerations: list,
    ) -> Dataset:  # fmt: skip
        """The negatives of ``data``'s captions, dealt over at most ``shards`` GPUs; the merge starts
        once every shard succeeded."""
        on_gpu = Accelerators(accelerators, accelerator, gpus, gpu_node_selector, gpu_tolerations).request
        plan = configure(shard_plan(shards=shards), "core", "negatives shard plan", s3_secret)
        with dsl.ParallelFor(plan.output) as part:
            shard = negatives_shard(data=data, pmi=pmi, part=part, config=config, work_root=work_root)
            on_gpu(configure(shard, "gen", "negatives shard (LLM)", s3_secret))
        merged = negatives_merge(shards=dsl.Collected(shard.outputs["shard"]))
        return configure(merged, "core", "negatives merge", s3_secret).outputs["negatives"]

    return negatives_by_shard


def build(
    params: dict[str, dict], accelerators: bool = True, parallel_training: int = 0, s3_secret: str = S3_SECRET
):
    """The pipeline with ``params`` (a parsed params.yaml: one dict per section) as its defaults.

    ``s3_secret``: the Kubernetes Secret every task reads S3 credentials from (a name fixed when the
    pipeline is compiled: backends before 2.17 cannot resolve a parameter's inside a loop).
    ``accelerators=False`` leaves out the GPU requests, whose parameters kfp's local runner cannot
    resolve inside loops and conditions (it ignores resources anyway); ``parallel_training`` caps the
    fine-tunings that run at once (0: all; one machine trains one at a time). Nothing else differs.
    """
    missing = [s for s in (*SECTIONS, *PUBLISH_SECTIONS) if s not in params]
    if missing:
        raise ValueError(f"params lack the sections {missing}")
    defaults = {s: params[s] for s in (*SECTIONS, *PUBLISH_SECTIONS)}
    count_pmi = pmi_count(s3_secret)
    by_shard = llm_negatives(accelerators, s3_secret)

    @dsl.pipeline(name="tune-and-compare")
    @with_sections([f"{s}_params" for s in (*SECTIONS, *PUBLISH_SECTIONS)])
    def tune_and_compare(
        base: Input[Model], world: Input[Dataset], finetune: Input[Dataset], pmi: Input[Dataset],
        evalsets: Input[Dataset], negatives: Input[Dataset], methods: list, zeroshot: list, sugarcrepe: str,
        benchmarks: dict, base_model: str, corpus: str, git_commit: str,
        accelerator: str, gpus: int, gpu_node_selector: dict, gpu_tolerations: list, train_nodes: int,
        work_root: str, sections: dict,
    ):  # fmt: skip
        """Evaluate ``base``, fine-tune it with each of ``methods`` and evaluate that, compare, record;
        ``sections``: every params section, as ``SECTION_params``."""

        on_gpu = Accelerators(accelerators, accelerator, gpus, gpu_node_selector, gpu_tolerations).request

        def evaluation(name: Any, model: Any) -> dsl.PipelineTask:
            task = evaluate_op(
                name=name,
                model=model,
                evalsets=evalsets,
                zeroshot=zeroshot,
                sugarcrepe=sugarcrepe,
                benchmarks=benchmarks,
                config=sections["evaluate_params"],
            )
            on_gpu(configure(task, "train", "evaluate", s3_secret))
            return task

        base_eval = evaluation("base", base)
        with dsl.ParallelFor(methods, parallelism=parallel_training) as method:
            tuned = train_op(base=base, method=method, data=finetune, negatives=negatives,
                             config=sections["train_params"],
                             gpus=gpus, nodes=train_nodes, s3_secret=s3_secret,
                             work_root=work_root)  # fmt: skip
            on_gpu(configure(tuned, "train", "train", s3_secret))
            tuned_eval = evaluation(method, tuned.outputs["model"])
        # one Collected per consumer: the compiler rewrites a Collected channel as it wires it
        comparison = compare_op(
            base=base_eval.outputs["report"], tuned=dsl.Collected(tuned_eval.outputs["report"])
        )
        configure(comparison, "train", "compare", s3_secret)
        record = lineage_record(
            run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, commit=git_commit, base_model=base_model,
            **{f"{s}_params": sections[f"{s}_params"] for s in SECTIONS},
            corpus=corpus, world=world, finetune=finetune, pmi=pmi, evalsets=evalsets, negatives=negatives,
            base_report=base_eval.outputs["report"], models=dsl.Collected(tuned.outputs["model"]),
            reports=dsl.Collected(tuned_eval.outputs["report"]), comparison=comparison.outputs["comparison"],
        )  # fmt: skip
        configure(record, "core", "lineage", s3_secret).set_caching_options(False)
        published = publish_op(
            run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            models=dsl.Collected(tuned.outputs["model"]),
            reports=dsl.Collected(tuned_eval.outputs["report"]),
            comparison=comparison.outputs["comparison"],
            registry=sections["registry_params"],
        )
        configure(published, "core", "publish", s3_secret).set_caching_options(False)

    @dsl.pipeline(name=NAME, description="PMI analysis, DeGLA fine-tuning and their evaluation")
    @with_sections(list(defaults), defaults)
    def compclip(
        corpus: str = "",
        finetune_data: str = "",
        shards: int = 4,
        negatives_shards: int = 4,
        base_model: str = "",
        methods: list = list(METHODS),  # noqa: B006
        zeroshot: list = ["single", "genpairs", "paste"],  # noqa: B006
        sugarcrepe: str = "compositional",
        benchmarks: dict = {},  # noqa: B006
        accelerator: str = "nvidia.com/gpu",
        gpus: int = 1,
        gpu_node_selector: dict = {},  # noqa: B006
        gpu_tolerations: list = [],  # noqa: B006
        train_nodes: int = 1,
        git_commit: str = "unknown",
        work_root: str = "",
        sections: dict | None = None,
    ):
        """Every params section is a parameter of its own, defaulting to params.yaml's (``sections``).

        ``corpus``: caption shards (space-separated URIs or globs, e.g. LAION parquet on S3) whose PMI
        is counted instead of the world's (over ``shards`` parts; the LLM negatives over
        ``negatives_shards`` GPUs); ``finetune_data``: an image-caption dataset folder (``compclip
        data import``) fine-tuned on instead of the world's; ``base_model``: an open_clip NAME:TAG,
        hf-hub:ID or s3:// model folder fine-tuned instead of pretraining one; ``methods``: the
        fine-tunings to run; ``benchmarks``: real benchmarks every model is evaluated on, e.g.
        ``{sugarcrepe: {annotations: s3://b/sugarcrepe, images: s3://coco/val2017}}``; ``train_nodes`` > 1:
        each fine-tuning is a Kubeflow Trainer TrainJob of that many nodes x ``gpus`` (docs/train.md);
        ``work_root``: an s3:// prefix where pretraining, the negatives and each fine-tuning keep their
        checkpoints or resume log, so a task run again (a retry, or the run retried) resumes
        (docs/storage.md; empty: on the pod's disk, lost with it)."""
        world, finetune, pmi = sections["world"], sections["finetune"], sections["pmi"]
        evalsets, pretrain, negatives = sections["evalsets"], sections["pretrain"], sections["negatives"]
        corpus_task = configure(world_corpus(config=world, section="world"), "core", "world", s3_secret)
        fine_task = configure(
            finetune_data_op(source=finetune_data, config=finetune), "core", "finetune data", s3_secret
        )
        world_data = corpus_task.outputs["corpus"]

        on_gpu = Accelerators(accelerators, accelerator, gpus, gpu_node_selector, gpu_tolerations).request

        counted = count_pmi(corpus=corpus, world=world_data, shards=shards, config=pmi, work_root=work_root)
        table = counted.set_display_name("pmi").output

        sets = configure(evalsets_build(pmi=table, config=evalsets), "core", "evalsets", s3_secret)
        generator = negatives_generator(config=negatives, data=fine_task.outputs["data"])
        configure(generator, "core", "negatives generator", s3_secret)

        rest = dict(
            world=world_data, finetune=fine_task.outputs["data"], pmi=table,
            evalsets=sets.outputs["evalsets"], methods=methods,
            zeroshot=zeroshot, sugarcrepe=sugarcrepe, benchmarks=benchmarks,
            base_model=base_model, corpus=corpus, git_commit=git_commit,
            accelerator=accelerator, gpus=gpus, gpu_node_selector=gpu_node_selector,
            gpu_tolerations=gpu_tolerations, train_nodes=train_nodes, work_root=work_root,
            **{f"{name}_params": value for name, value in sections.items()},
        )  # fmt: skip

        def negatives_then_rest(base: Any) -> None:
            """Negatives by the configured generators (the LLM: sharded over GPUs), then the rest."""
            inputs = dict(data=fine_task.outputs["data"], pmi=table, config=negatives, work_root=work_root)
            with dsl.If(generator.output == "llm", name="llm-negatives"):
                gpu = dict(accelerator=accelerator, gpus=gpus, gpu_node_selector=gpu_node_selector,
                           gpu_tolerations=gpu_tolerations)  # fmt: skip
                llm = by_shard(**inputs, **gpu, shards=negatives_shards)
                llm.set_display_name("negatives (LLM, sharded)")
                tuned = tune_and_compare(base=base, negatives=llm.output, **rest)
                tuned.set_display_name("tune and compare")
            with dsl.Else(name="rule-negatives"):
                rules = configure(negatives_generate(**inputs), "core", "negatives", s3_secret)
                rules.set_retry(RETRIES)
                tuned = tune_and_compare(base=base, negatives=rules.outputs["negatives"], **rest)
                tuned.set_display_name("tune and compare")

        # The rest of the flow runs in every branch on its base model and negatives (kfp's local runner
        # cannot pick an artifact out of two branches, dsl.OneOf, so each branch carries the rest itself).
        with dsl.If(base_model == "", name="pretrain-a-base-model"):
            pre = pretrain_op(data=world_data, config=pretrain, work_root=work_root)
            on_gpu(configure(pre, "train", "pretrain", s3_secret)).set_retry(RETRIES)
            negatives_then_rest(pre.outputs["model"])
        with dsl.Else(name="base-model-given"):
            given = configure(base_model_op(source=base_model), "core", "check base model", s3_secret)
            negatives_then_rest(given.outputs["model"])

    return compclip
