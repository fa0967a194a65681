"""Publishing as a Kubeflow component: `compclip registry publish`, the candidate into the S3 registry."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def publish(
    run_id: str,
    models: Input[list[Model]],
    reports: Input[list[Dataset]],
    comparison: Input[Dataset],
    registry: dict,
    gates: dict,
    published: Output[Dataset],
):
    """A new version of ``registry['name']``: the tuned model named ``registry['candidate']`` (its
    method), with its report and the comparison, under ``registry['root']`` (empty: publish nothing);
    ``registry``/``gates``: the params.yaml sections."""
    import json
    from pathlib import Path

    from compclip.cli import run

    Path(published.path).mkdir(parents=True, exist_ok=True)
    if not registry.get("root"):
        (Path(published.path) / "published.json").write_text(json.dumps({"published": False}))
        return
    candidate = registry["candidate"]
    model = next((m for m in models if m.metadata["method"] == candidate), None)
    report = next((r for r in reports if r.metadata["name"] == candidate), None)
    if model is None or report is None:
        raise RuntimeError(f"no tuned model named {candidate!r} in this run (registry.candidate)")
    argv = ["registry", "publish", model.path, "--report", report.path, "--compare", comparison.path]
    run([*argv, "--run-id", run_id, "--json"], params={"registry": registry, "gates": gates})
    record = {"published": True, "name": registry["name"], "candidate": candidate, "run_id": run_id}
    (Path(published.path) / "published.json").write_text(json.dumps(record))
