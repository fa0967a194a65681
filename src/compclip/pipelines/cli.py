"""``compclip pipeline``: compile the Kubeflow pipeline, submit or schedule it on a cluster, run it here."""

import argparse
import ast
import re
import time
from pathlib import Path

from compclip.cli import add_command
from compclip.errors import UserError
from compclip.images import DEFAULT_REGISTRY, Images, content_tag, read_digests
from compclip.pipelines import cluster
from compclip.pipelines.cluster import PULL_POLICIES, Cluster
from compclip.pipelines.local import RUNNERS
from compclip.pipelines.tasks import S3_SECRET
from compclip.revision import git_commit

EXAMPLES = """examples:
  compclip pipeline compile --out pipeline.yaml
  compclip pipeline compile --out pipeline.yaml --image-repository registry.example.com/ml \\
      --digests out/images/digests.json --image-pull-secret regcred --hf-token-secret hf-token
  compclip pipeline submit --host https://kfp.example.com --token "$KFP_TOKEN" --namespace team-a \\
      --experiment compclip --param world.n=20000 --param methods='[degla, negclip]'
  compclip pipeline submit --host http://localhost:8080 --param corpus='s3://bucket/laion/*.parquet' \\
      --param base_model=ViT-B-32:laion400m_e32 --param shards=64 --pipeline-root s3://bucket/kfp
  compclip pipeline schedule --host http://localhost:8080 --cron '0 0 3 * * 0' \\
      --image-repository registry.example.com/ml --service-account compclip-pipeline --no-cache
  compclip pipeline run --root out/kfp --param world.n=400 --param train.optim.epochs=1   # locally
  compclip pipeline run --root out/kfp --push     # and push the outputs to the DVC remote
  compclip pipeline run --root out/kfp-containers --runner containers   # every task in its image (podman)
  compclip pipeline compile --pipeline genpairs --out genpairs.yaml   # GenPairs/paste/VQA on GPUs
  compclip pipeline submit --pipeline genpairs --host http://localhost:8080 \\
      --param pmi_table=s3://bucket/pmi/laion400m --param n_shards=8 --param genpairs.select.per_stratum=200
"""
# The checkout: image tags are computed from it.
REPO = Path(__file__).resolve().parents[3]
# --pipeline NAME: the module that defines it (``build``, ``SECTIONS``, ``PUBLISH_SECTIONS``).
PIPELINES = {
    "compclip": "compclip.pipelines.compclip_pipeline",
    "genpairs": "compclip.pipelines.genpairs_pipeline",
}


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "pipeline", "the Kubeflow pipeline", EXAMPLES, description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    build = add_command(
        verbs, "compile", "write the pipeline spec (PipelineSpec + PlatformSpec YAML)", EXAMPLES
    )
    build.add_argument("--out", type=Path, required=True, help="pipeline YAML to write")
    _common(build)
    _for_cluster(build)
    build.set_defaults(func=_compile)
    for verb, text in (("submit", "start one run on a cluster"), ("schedule", "create a recurring run")):
        sub = add_command(verbs, verb, text, EXAMPLES)
        sub.add_argument("--host", required=True, help="Kubeflow Pipelines API, e.g. https://kfp.example.com")
        sub.add_argument("--token", help="bearer token (e.g. a service account token); default: none")
        sub.add_argument("--namespace", help="profile namespace of a multi-user deployment")
        sub.add_argument("--experiment", default="compclip", help="experiment name (default: %(default)s)")
        sub.add_argument("--name", help="run or schedule name (default: compclip-TIMESTAMP)")
        sub.add_argument(
            "--pipeline-root", help="where artifacts go, e.g. s3://bucket/kfp (default: the cluster's)"
        )
        sub.add_argument(
            "--service-account",
            help="the Kubernetes ServiceAccount the run's pods use (default: the profile's)",
        )
        sub.add_argument(
            "--no-cache", action="store_true", help="run every task, even one whose inputs ran before"
        )
        _common(sub)
        _for_cluster(sub)
        sub.set_defaults(func=_remote)
    schedule = verbs.choices["schedule"]
    schedule.add_argument("--cron", required=True, help="six fields: second minute hour day month weekday")
    run = add_command(verbs, "run", "run the pipeline here through kfp's local runner", EXAMPLES)
    run.add_argument(
        "--root", type=Path, default=Path("out/kfp"), help="local pipeline root (default: %(default)s)"
    )
    run.add_argument(
        "--no-cache", action="store_true", help="run every task even if its inputs did not change"
    )
    run.add_argument(
        "--push", action="store_true", help="push the outputs to the DVC remote (lineage/RUN_ID/)"
    )
    run.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository for --push")
    run.add_argument(
        "--runner",
        choices=RUNNERS,
        default="subprocess",
        help="subprocess: every task a subprocess of this Python; containers: every task in its "
        "image of this checkout, through podman (`make image-core images-torch`) (default: %(default)s)",
    )
    _common(run)
    run.set_defaults(func=_run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pipeline",
        choices=sorted(PIPELINES),
        default="compclip",
        help="compclip: the whole flow; genpairs: GenPairs, paste, VQA data on GPUs (default: %(default)s)",
    )
    parser.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="the params file (default: %(default)s)"
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="a pipeline parameter or SECTION.KEY setting (repeatable; VALUE is YAML)",
    )  # fmt: skip


def _for_cluster(parser: argparse.ArgumentParser) -> None:
    images = parser.add_argument_group('images and Secrets on the cluster (README, "Running on a cluster")')
    images.add_argument(
        "--image-repository",
        metavar="REPO",
        help=f"registry and path the images were pushed to (default: {DEFAULT_REGISTRY}, this machine's)",
    )
    tagged = images.add_mutually_exclusive_group()
    tagged.add_argument(
        "--image-tag", metavar="TAG", help="the images' tag (default: this checkout's content tag)"
    )
    tagged.add_argument(
        "--digests",
        type=Path,
        metavar="FILE",
        help="pin each image by its digest, as `make push` recorded them",
    )
    images.add_argument(
        "--image-pull-policy", choices=PULL_POLICIES, default="IfNotPresent", help="default: %(default)s"
    )
    images.add_argument("--image-pull-secret", metavar="NAME", help="Secret of the registry's credentials")
    images.add_argument(
        "--hf-token-secret",
        metavar="NAME",
        help="Secret whose key HF_TOKEN the gen tasks read (gated hub models)",
    )
    images.add_argument(
        "--s3-secret",
        metavar="NAME",
        default=S3_SECRET,
        help="Secret of the S3 keys; a ConfigMap so named holds the endpoint (default: %(default)s)",
    )


def _cluster(args: argparse.Namespace) -> Cluster:
    """Where the tasks' images come from and the Kubernetes settings every task gets."""
    if args.digests:
        images = read_digests(args.digests)
        if args.image_repository and args.image_repository.rstrip("/") != images.repository.rstrip("/"):
            raise UserError(
                f"{args.digests} records images of {images.repository}, not {args.image_repository}"
            )
    else:
        images = Images(args.image_repository or DEFAULT_REGISTRY, args.image_tag or content_tag(REPO))
    return Cluster(images, args.image_pull_policy, args.image_pull_secret or "", args.hf_token_secret or "")


def _prepare(args: argparse.Namespace, local: bool = False):
    """The pipeline (params file sections as defaults) and the checked arguments."""
    import importlib

    from compclip.config import load_params
    from compclip.pipelines.params import apply, check_arguments

    module = importlib.import_module(PIPELINES[args.pipeline])
    params, arguments = apply(load_params(args.params), args.param)
    sections = (*module.SECTIONS, *module.PUBLISH_SECTIONS)
    missing = [s for s in sections if s not in params]
    if missing:
        raise UserError(f"{args.params}: no section {', '.join(missing)}")
    if args.pipeline == "compclip":
        arguments.setdefault("git_commit", git_commit() or "unknown")
    if local:
        pipeline = module.build(params, accelerators=False, parallel_training=1)
        if args.runner == "containers":  # the images `make images` built from this checkout
            cluster.apply(pipeline, Cluster(Images(DEFAULT_REGISTRY, content_tag(REPO))))
    else:
        pipeline = module.build(params, s3_secret=args.s3_secret)
        cluster.apply(pipeline, _cluster(args))
    inputs = pipeline.pipeline_spec.root.input_definitions.parameters
    declared = {name: _type_name(spec.parameter_type) for name, spec in inputs.items()}
    check_arguments(declared, {**{s: params[s] for s in sections}, **arguments})
    required = [n for n, spec in inputs.items() if not spec.is_optional and n not in arguments]
    if required and args.verb != "compile":
        raise UserError(f"give the pipeline parameter {', '.join(required)} (--param NAME=VALUE)")
    return pipeline, arguments


def _type_name(value: int) -> str:
    from kfp.pipeline_spec import pipeline_spec_pb2

    return pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(value)


def _compile(args: argparse.Namespace) -> None:
    from kfp import compiler

    pipeline, arguments = _prepare(args)
    compiler.Compiler().compile(pipeline, str(args.out), pipeline_parameters=arguments)
    args.out.write_text(stable_header(args.out.read_text()))
    print(f"wrote {args.out}")


# kfp's header comment lists each input's default; a dict default's keys come in protobuf map order,
# which changes from process to process. Sorted, the same pipeline compiles to the same bytes.
_DEFAULT = re.compile(r"^(#    \S+: dict \[Default: )(.*)(\])$", re.MULTILINE)


def stable_header(text: str) -> str:
    """``text`` with every dict default of kfp's header comment written with sorted keys."""

    def ordered(value):
        if isinstance(value, dict):
            return {key: ordered(value[key]) for key in sorted(value)}
        return [ordered(v) for v in value] if isinstance(value, list) else value

    return _DEFAULT.sub(lambda m: f"{m[1]}{ordered(ast.literal_eval(m[2]))!r}{m[3]}", text)


def _remote(args: argparse.Namespace) -> None:
    import tempfile

    from kfp import compiler

    from compclip.pipelines import remote

    pipeline, arguments = _prepare(args)
    if args.no_cache:
        cluster.disable_caching(pipeline)
    if args.verb == "schedule":
        remote.validate_cron(args.cron)
    name = args.name or f"{pipeline.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    kfp_client = remote.client(args.host, args.token, args.namespace)
    with tempfile.TemporaryDirectory() as tmp:
        package = str(Path(tmp) / "pipeline.yaml")
        compiler.Compiler().compile(pipeline, package)
        run = remote.RunSettings(
            experiment=args.experiment, name=name, namespace=args.namespace, pipeline_root=args.pipeline_root,
            service_account=args.service_account,
        )  # fmt: skip
        if args.verb == "submit":
            run_id = remote.submit(kfp_client, package, arguments, run)
            print(f"submitted run {run_id} ({name}) to {args.host}")
        else:
            job = remote.schedule(kfp_client, package, arguments, run, args.cron)
            print(f"scheduled {job} ({name}, cron {args.cron!r}) on {args.host}")


def _run(args: argparse.Namespace) -> None:
    from compclip.lineage import pull_hint, push
    from compclip.pipelines import local

    if args.pipeline != "compclip":
        if args.push:
            raise UserError("--push records a compclip run's lineage; the genpairs pipeline has none")
        pipeline, arguments = _prepare(args, local=True)
        (folder,) = local.execute(pipeline, arguments, args.root.resolve(), not args.no_cache, args.runner)
        print(f"run {folder.name}: every task's outputs under {folder}")
        return
    pipeline, arguments = _prepare(args, local=True)
    path, manifest = local.run(pipeline, arguments, args.root.resolve(), not args.no_cache, args.runner)
    print(f"run {manifest['run_id']}: every output and its hashes in {path}")
    if args.push:
        folder = push(manifest, args.repo.resolve())
        print(f"pushed the run's outputs; {pull_hint(folder, args.repo.resolve())}")
    print(local.comparison_table(manifest), end="")
