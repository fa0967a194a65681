"""The comparison as a Kubeflow component: `compclip compare`, each change with its paired CI as Metrics."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from compclip.images import image


@dsl.component(base_image=image("train"), install_kfp_package=False)
def compare(
    base: Input[Dataset],
    tuned: Input[list[Dataset]],
    comparison: Output[Dataset],
    html: Output[HTML],
    metrics: Output[Metrics],
):
    """Each tuned report (named by its ``name`` metadata) against the base report."""
    import shutil
    from pathlib import Path

    from compclip.evaluate.compare import compare as compare_reports
    from compclip.evaluate.headline import compare_headline, log_metrics
    from compclip.evaluate.stats import StatsConfig

    reports = {base.metadata["name"]: base.path}
    reports.update((r.metadata["name"], r.path) for r in sorted(tuned, key=lambda r: r.metadata["name"]))
    result = compare_reports(reports, comparison.path, StatsConfig())
    shutil.copyfile(Path(comparison.path) / "compare.html", html.path)
    log_metrics(compare_headline(result), metrics)
