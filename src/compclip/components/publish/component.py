"""Publishing as a Kubeflow component: `compclip registry publish --promote staging`, the candidate into
the S3 registry and, when its gates pass, onto staging (production stays a person's command)."""

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
    method), with its report and the comparison, under ``registry['root']`` (empty: publish nothing),
    promoted to staging when every gate passes; ``registry``/``gates``: the params.yaml sections.
    ``published.json`` holds the version, whether staging moved and the gate results."""
    import contextlib
    import io
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
    argv += ["--run-id", run_id, "--promote", "staging", "--json"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run(argv, params={"registry": registry, "gates": gates})
    shown = json.loads(printed.getvalue())
    promotion = shown["promotion"]
    record = {"published": True, "name": registry["name"], "version": shown["version"],
              "candidate": candidate, "run_id": run_id, "promotion": promotion}  # fmt: skip
    print(f"published {shown['version']}; staging moved: {promotion['promoted']}")
    print("\n".join(f"{g['name']}: {'pass' if g['passed'] else 'FAIL'}" for g in promotion["gates"]))
    (Path(published.path) / "published.json").write_text(json.dumps(record))
