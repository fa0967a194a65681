"""Publishing as a Kubeflow component (what `compclip registry publish --promote staging` does): the
candidate into the S3 registry and, when the registry's gate policy passes, onto staging (production
stays a person's command). The audit log names the run as the actor (``kfp-run/RUN_ID``)."""

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
    published: Output[Dataset],
):
    """A new version of ``registry['name']``: the tuned model named ``registry['candidate']`` (its
    method), with its report and the comparison, under ``registry['root']`` (empty: publish nothing),
    promoted to staging when every gate of the registry's policy passes; ``registry``: the params.yaml
    section. ``published.json`` holds the version, whether staging moved and the gate results."""
    import json
    import os
    from pathlib import Path

    from compclip.config import from_dict
    from compclip.registry import promotion
    from compclip.registry.cli import RegistryConfig
    from compclip.registry.publish import PublishConfig
    from compclip.registry.publish import publish as publish_version

    Path(published.path).mkdir(parents=True, exist_ok=True)
    if not registry.get("root"):
        (Path(published.path) / "published.json").write_text(json.dumps({"published": False}))
        return
    candidate = registry["candidate"]
    model = next((m for m in models if m.metadata["method"] == candidate), None)
    report = next((r for r in reports if r.metadata["name"] == candidate), None)
    if model is None or report is None:
        raise RuntimeError(f"no tuned model named {candidate!r} in this run (registry.candidate)")
    os.environ.setdefault("COMPCLIP_ACTOR", f"kfp-run/{run_id}")
    settings = from_dict(RegistryConfig, registry, "registry")
    config = PublishConfig(settings.name, candidate, run_id)
    version = publish_version(
        model.path, report.path, comparison.path, settings.root, config, {"registry": registry}
    )
    move, results = promotion.promote_if_gates_pass(settings.root, settings.name, version, "staging")
    alias = move.alias.as_dict() if move else None
    moved = {"stage": "staging", "promoted": move is not None, "alias": alias,
             "gates": [g.as_dict() for g in results]}  # fmt: skip
    record = {"published": True, "name": settings.name, "version": version,
              "candidate": candidate, "run_id": run_id, "promotion": moved}  # fmt: skip
    print(f"published {version}; staging moved: {moved['promoted']}")
    print("\n".join(g.describe() for g in results))
    (Path(published.path) / "published.json").write_text(json.dumps(record))
