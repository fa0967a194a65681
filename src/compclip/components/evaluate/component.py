"""Evaluation as a Kubeflow component (`compclip evaluate`): its headline as Metrics, its HTML report."""

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
    import shutil
    from pathlib import Path

    from compclip.config import from_dict
    from compclip.evaluate.headline import headline_metrics, log_metrics
    from compclip.evaluate.run import Benchmark, EvaluateConfig, evaluate, parse_benchmarks

    sets = Path(evalsets.path)
    chosen = {"sugarcrepe": Benchmark(str(sets / sugarcrepe), str(sets / sugarcrepe))} if sugarcrepe else {}
    chosen.update(parse_benchmarks(benchmarks))
    settings = from_dict(EvaluateConfig, config, "evaluate")
    found = evaluate(model.path, [str(sets / z) for z in zeroshot], chosen, report.path, settings)
    shutil.copyfile(Path(report.path) / "report.html", html.path)
    log_metrics(headline_metrics(found), metrics)
    report.metadata["name"] = name
