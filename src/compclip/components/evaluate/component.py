"""Evaluation as a Kubeflow component: `compclip evaluate`, its headline as Metrics, its HTML report."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def evaluate(
    name: str,
    model: Input[Model],
    evalsets: Input[Dataset],
    zeroshot: list[str],
    sugarcrepe: str,
    benchmarks: dict,
    config: dict,
    report: Output[Dataset],
    html: Output[HTML],
    metrics: Output[Metrics],
):
    """Zero-shot accuracy against PMI on the ``zeroshot`` sets of ``evalsets``, its compositional set
    ``sugarcrepe`` (empty: none) and the real ``benchmarks`` ({name: {annotations, images}}, URIs)
    for ``model``; ``name`` labels the report."""
    import json
    import shutil
    from pathlib import Path

    from compclip.cli import run
    from compclip.evaluate.cli import benchmark_flags
    from compclip.evaluate.headline import headline_metrics, log_metrics

    sets = Path(evalsets.path)
    argv = [
        "evaluate",
        "--model",
        model.path,
        "--out",
        report.path,
        "--zeroshot",
        *[str(sets / z) for z in zeroshot],
    ]
    if sugarcrepe:
        argv += ["--sugarcrepe", str(sets / sugarcrepe), "--sugarcrepe-images", str(sets / sugarcrepe)]
    run([*argv, *benchmark_flags(benchmarks)], params={"evaluate": config})
    out = Path(report.path)
    shutil.copyfile(out / "report.html", html.path)
    log_metrics(headline_metrics(json.loads((out / "metrics.json").read_text())), metrics)
    report.metadata["name"] = name
