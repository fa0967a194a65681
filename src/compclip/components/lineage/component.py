"""A run's lineage as a Kubeflow component: ``compclip.lineage.record`` over every output of the run."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def lineage_record(
    run_id: str,
    commit: str,
    world_params: dict,
    finetune_params: dict,
    pmi_params: dict,
    evalsets_params: dict,
    pretrain_params: dict,
    negatives_params: dict,
    train_params: dict,
    evaluate_params: dict,
    base_model: str,
    corpus: str,
    world: Input[Dataset],
    finetune: Input[Dataset],
    pmi: Input[Dataset],
    evalsets: Input[Dataset],
    negatives: Input[Dataset],
    base_report: Input[Dataset],
    models: Input[list[Model]],
    reports: Input[list[Dataset]],
    comparison: Input[Dataset],
    lineage: Output[Dataset],
):
    """lineage.json: run id, commit, every stage's params, the inputs given and every output's file hashes."""
    from pathlib import Path

    from compclip.lineage import MANIFEST, record
    from compclip.storage import write_json

    outputs = {"world": world, "finetune": finetune, "pmi": pmi, "evalsets": evalsets, "negatives": negatives}
    outputs.update({f"model-{m.metadata['method']}": m for m in models})
    outputs.update({f"report-{r.metadata['name']}": r for r in [base_report, *reports]})
    outputs["compare"] = comparison
    inputs = {f"corpus-{i}": uri for i, uri in enumerate(corpus.split())}
    inputs.update({"base_model": base_model} if base_model.startswith("s3://") else {})
    # a cluster's artifact is recorded by its URI (where DVC and users reach it) and hashed from the
    # copy the task was given; a local run's by its path
    where = {name: a.uri if "://" in a.uri else a.path for name, a in outputs.items()}
    params = {"world": world_params, "finetune": finetune_params, "pmi": pmi_params,
              "evalsets": evalsets_params, "pretrain": pretrain_params, "negatives": negatives_params,
              "train": train_params, "evaluate": evaluate_params}  # fmt: skip
    manifest = record(run_id, commit, params, inputs, where, {name: a.path for name, a in outputs.items()})
    write_json(Path(lineage.path) / MANIFEST, manifest)
    print(f"wrote {lineage.path}/{MANIFEST}: run {run_id}, {len(where)} outputs")
