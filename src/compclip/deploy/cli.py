"""``compclip deploy``: render the InferenceService of a registry alias (GitOps), or apply it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from compclip.cli import add_command
from compclip.deploy.cluster import apply, connect
from compclip.deploy.kustomize import build
from compclip.deploy.service import KIND, find_service, render, storage_uri
from compclip.errors import UserError
from compclip.registry.layout import STAGES
from compclip.registry.read import resolved
from compclip.registry.store import Store
from compclip.storage import atomic_write_bytes

log = logging.getLogger(__name__)

EXAMPLES = """examples:
  compclip deploy render --stage production --name compclip --root s3://models \\
      --out k8s/releases/production/inferenceservice.yaml
  compclip deploy render --stage staging --name compclip --root s3://models \\
      --overlay k8s/overlays/dev --out dev-isvc.yaml
  compclip deploy apply --file k8s/releases/production/inferenceservice.yaml --dry-run
  compclip deploy apply --stage staging --name compclip --root s3://models   # render, then apply
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "deploy", "deploy the inspection service on KServe", EXAMPLES, __doc__)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    render_parser = add_command(
        actions, "render", "write the InferenceService of the version an alias points to", EXAMPLES
    )
    _alias_arguments(render_parser, required=True)
    render_parser.add_argument("--out", required=True, help="the manifest to write (commit it)")
    render_parser.set_defaults(func=_render)

    apply_parser = add_command(
        actions, "apply", "apply an InferenceService to the configured cluster", EXAMPLES
    )
    apply_parser.add_argument("--file", help="a rendered manifest; without it, render from the alias")
    _alias_arguments(apply_parser, required=False)
    apply_parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    apply_parser.add_argument("--context", help="kubeconfig context (default: its current context)")
    apply_parser.add_argument(
        "--dry-run", action="store_true", help="let the API server check it, change nothing"
    )
    apply_parser.set_defaults(func=_apply)


def _alias_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--stage", choices=STAGES, required=required, help="the alias to deploy")
    parser.add_argument("--name", required=required, help="the registry's model name")
    parser.add_argument("--root", required=required, help="registry root, s3://BUCKET[/prefix]")
    parser.add_argument(
        "--overlay", help="kustomize overlay holding the InferenceService (default: k8s/overlays/STAGE)"
    )


def _rendered(args: argparse.Namespace) -> dict:
    overlay = args.overlay or str(Path("k8s", "overlays", args.stage))
    alias = resolved(Store(args.root), args.name, args.stage)
    return render(find_service(build(overlay)), alias.uri, alias.manifest_sha256, args.name, args.stage)


def _render(args: argparse.Namespace) -> None:
    service = _rendered(args)
    header = (
        f"# Rendered by `compclip deploy render`: {args.name} {args.stage} -> {storage_uri(service)}\n"
        "# Commit this file; render again after a promotion or an overlay change, never edit it by hand.\n"
    )
    atomic_write_bytes(Path(args.out), (header + yaml.safe_dump(service, sort_keys=False)).encode())
    print(f"wrote {args.out}: {KIND} {service['metadata']['name']} serving {storage_uri(service)}")


def _apply(args: argparse.Namespace) -> None:
    if args.file:
        service = _load(args.file)
    elif args.stage and args.name and args.root:
        service = _rendered(args)
    else:
        raise UserError("give --file, or --stage, --name and --root to render from the alias")
    answer = apply(service, connect(args.kubeconfig, args.context), dry_run=args.dry_run)
    generation = answer.get("metadata", {}).get("generation", "?")
    done = "checked (dry run)" if args.dry_run else f"applied (generation {generation})"
    print(f"{done}: {KIND} {service['metadata']['name']} serving {storage_uri(service)}")


def _load(path: str) -> dict:
    try:
        documents = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    except FileNotFoundError as err:
        raise UserError(f"no such file: {path}") from err
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not YAML ({err})") from err
    if len(documents) != 1 or documents[0].get("kind") != KIND:
        raise UserError(f"{path}: expected one {KIND}, found {len(documents)} document(s)")
    return documents[0]
