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
    import json
    import shutil
    from pathlib import Path

    from compclip.cli import run
    from compclip.evaluate.headline import compare_headline

    reports = [f"{r.metadata['name']}={r.path}" for r in sorted(tuned, key=lambda r: r.metadata["name"])]
    run(["compare", f"{base.metadata['name']}={base.path}", *reports, "--out", comparison.path])
    out = Path(comparison.path)
    shutil.copyfile(out / "compare.html", html.path)
    headline = compare_headline(json.loads((out / "compare.json").read_text()))
    for key, value in headline.items():
        metrics.log_metric(key, value)
    # the same numbers as a file: an artifact without one is a cache miss for kfp's local runner
    Path(metrics.path).write_text(json.dumps(headline, indent=2, sort_keys=True))
