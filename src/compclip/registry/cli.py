"""``compclip registry``: publish models to the S3 registry, promote them behind gates, roll back, pull.

The root (``s3://BUCKET[/prefix]``) comes from ``--root``, else ``$COMPCLIP_REGISTRY``, else the
``registry.root`` of ``--params``. The gates are the registry's own policy, changed only by
``registry policy set`` (which reads the ``gates`` section of ``--params``). Every command prints
a table, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from compclip.cli import add_command
from compclip.config import as_dict as config_dict
from compclip.config import load_section
from compclip.errors import UserError
from compclip.registry import audit, policy, promotion, read
from compclip.registry.gates import GatesConfig, failures
from compclip.registry.layout import STAGES
from compclip.registry.publish import PublishConfig, publish
from compclip.registry.store import Store

EXAMPLES = """examples:
  export COMPCLIP_REGISTRY=s3://compclip          # or --root s3://BUCKET/prefix on every command
  compclip registry publish out/degla --name world-degla --report out/eval/degla \\
      --compare out/compare --params params.yaml --run-id $RUN_ID
  compclip registry publish out/degla --report out/eval/degla --compare out/compare \\
      --params params.yaml --promote staging     # and point staging at it if its gates pass
  compclip registry policy set world-degla --params params.yaml --reason "margins agreed with QA"
  compclip registry policy show world-degla       # the gates in force and their history
  compclip registry list                          # every model; `list world-degla`: its versions
  compclip registry show world-degla v3
  compclip registry diff world-degla v2 v3        # evaluation metrics side by side
  compclip registry gates world-degla v3          # under the registry's policy
  compclip registry promote world-degla v3 --to staging
  compclip registry promote world-degla v3 --to production   # only after staging
  compclip registry promote world-degla v4 --to production --force --reason "INC-12: swap regression accepted"
  compclip registry rollback world-degla --stage production --reason "latency regression"
  compclip registry audit world-degla --json
  compclip registry verify world-degla            # audit chain, aliases, manifests; exit 1 on a problem
  compclip registry pull world-degla production --out models/prod   # verified against the manifest
  compclip serve --model $(compclip registry resolve world-degla staging) --name compclip
"""


@dataclass(frozen=True)
class RegistryConfig:
    """The ``registry`` section of params.yaml."""

    root: str | None = None
    name: str | None = None
    candidate: str | None = None


def register(commands: argparse._SubParsersAction) -> None:
    for library in ("botocore", "aiobotocore"):  # not a line per S3 client about where credentials came from
        logging.getLogger(library).setLevel(logging.WARNING)
    parser = add_command(commands, "registry", "model registry in S3: publish, promote, roll back", EXAMPLES)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, summary: str, func) -> argparse.ArgumentParser:
        sub = add_command(verbs, name, summary, EXAMPLES)
        sub.add_argument("--root", help="registry root s3://BUCKET[/prefix] (default: $COMPCLIP_REGISTRY)")
        sub.add_argument("--params", help="params.yaml: its `registry` section")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(func=func)
        return sub

    sub = verb("publish", "publish a model folder with its report and comparison as a new version", _publish)
    sub.add_argument("model", metavar="MODEL_DIR", help="model folder or s3:// URI (safetensors + manifest)")
    sub.add_argument("--name", help="model name in the registry (default: registry.name of --params)")
    sub.add_argument("--report", required=True, help="the model's `compclip evaluate` folder")
    sub.add_argument("--compare", required=True, help="the `compclip compare` folder against its base")
    sub.add_argument(
        "--candidate", help="its name in compare.json (default: registry.candidate, else the non-baseline)"
    )
    sub.add_argument("--run-id", help="pipeline run id, kept in the lineage")
    sub.add_argument(
        "--promote",
        choices=STAGES,
        metavar="STAGE",
        help="then point STAGE at the new version if every gate passes (a failed gate leaves it unchanged)",
    )

    sub = verb("list", "models, or the versions of one", _list)
    sub.add_argument("name", nargs="?")

    sub = verb("show", "one version: lineage, files, stages, metrics", _show)
    sub.add_argument("name")
    sub.add_argument("version", metavar="vN")

    sub = verb("diff", "two versions' evaluation metrics side by side", _diff)
    sub.add_argument("name")
    sub.add_argument("a", metavar="vA")
    sub.add_argument("b", metavar="vB")

    sub = verb("gates", "evaluate a version's gates under the registry's policy, moving nothing", _gates)
    sub.add_argument("name")
    sub.add_argument("version", metavar="vN")

    sub = verb("policy", "the registry's gate policy of a model: show it, or set it (audited)", _policy)
    sub.add_argument("action", choices=("show", "set"))
    sub.add_argument("name")
    sub.add_argument("--reason", help="why the policy changes (set: required; kept in the audit log)")

    sub = verb("promote", "point a stage at a version if its gates pass (production after staging)", _promote)
    sub.add_argument("name")
    sub.add_argument("version", metavar="vN")
    sub.add_argument("--to", required=True, choices=STAGES, dest="stage")
    sub.add_argument(
        "--force", action="store_true", help="override failed gates or skipping staging (needs --reason)"
    )
    sub.add_argument("--reason", help="why; kept in the audit log")

    sub = verb("rollback", "promote a stage back to its previous version, behind the same gates", _rollback)
    sub.add_argument("name")
    sub.add_argument("--stage", required=True, choices=STAGES)
    sub.add_argument("--force", action="store_true", help="override failed gates (audited)")
    sub.add_argument("--reason", required=True, help="why; kept in the audit log")

    sub = verb("verify", "check the audit chain, the aliases and the published manifests", _verify)
    sub.add_argument("name")

    sub = verb("resolve", "the URI of the version a stage points to (for `compclip serve --model`)", _resolve)
    sub.add_argument("name")
    sub.add_argument("stage", choices=STAGES)

    sub = verb("audit", "the audit log of a model, oldest first", _audit)
    sub.add_argument("name")

    sub = verb("pull", "download a version (vN or a stage) and verify every file", _pull)
    sub.add_argument("name")
    sub.add_argument("ref", metavar="vN|STAGE")
    sub.add_argument("--out", required=True, help="destination folder or s3:// URI")


def _settings(args: argparse.Namespace) -> RegistryConfig:
    return load_section(RegistryConfig, args.params, "registry")


def _root(args: argparse.Namespace) -> str:
    root = args.root or os.environ.get("COMPCLIP_REGISTRY") or _settings(args).root
    if not root:
        raise UserError("no registry root: pass --root s3://BUCKET, set COMPCLIP_REGISTRY or registry.root")
    return root


def _gates_config(args: argparse.Namespace) -> GatesConfig:
    if not args.params:
        raise UserError("policy set needs --params FILE: its `gates` section becomes the policy")
    return load_section(GatesConfig, args.params, "gates")


def _print(args: argparse.Namespace, data, lines: list[str]) -> None:
    print(json.dumps(data, indent=2) if args.json else "\n".join(lines))


def _table(rows: list[list]) -> list[str]:
    cells = [
        ["-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def _publish(args: argparse.Namespace) -> None:
    settings = _settings(args)
    name = args.name or settings.name
    if not name:
        raise UserError("publish needs --name NAME (or registry.name in --params)")
    params = yaml.safe_load(Path(args.params).read_text()) if args.params else None
    config = PublishConfig(name, args.candidate or settings.candidate, args.run_id)
    root = _root(args)
    version = publish(args.model, args.report, args.compare, root, config, params)
    shown = read.show(Store(root), name, version)
    lines = [f"published {name} {version}: {shown['uri']}"]
    if args.promote:
        move, results = promotion.promote_if_gates_pass(root, name, version, args.promote)
        shown["promotion"] = {
            "stage": args.promote,
            "promoted": move is not None,
            "alias": move.alias.as_dict() if move else None,
            "gates": [g.as_dict() for g in results],
        }
        if move is None and failures(results):
            failed = len(failures(results))
            lines.append(f"{name} {args.promote}: unchanged, {version} fails {failed} gate(s)")
        elif move is None:
            lines.append(f"{name} {args.promote}: unchanged, already {version}")
        else:
            lines.append(f"{name} {args.promote}: {move.alias.previous or '-'} -> {version}")
        lines += [g.describe() for g in results]
    _print(args, shown, lines)


def _list(args: argparse.Namespace) -> None:
    store = Store(_root(args))
    if args.name is None:
        rows = [
            {"name": n, "versions": len(read.numbered(store, n)), **read.stages(store, n)}
            for n in read.names(store)
        ]
        lines = [
            [r["name"], r["versions"], *(r[s]["version"] if s in r else "-" for s in STAGES)] for r in rows
        ]
        _print(args, rows, _table([["name", "versions", *STAGES], *lines]))
        return
    rows = read.versions(store, args.name)
    lines = [
        [
            r["version"],
            "yes" if r["complete"] else "INCOMPLETE",
            r["created_at"],
            r["by"],
            ",".join(r["stages"]),
        ]
        for r in rows
    ]
    _print(args, rows, _table([["version", "complete", "created", "by", "stages"], *lines]))


def _show(args: argparse.Namespace) -> None:
    shown = read.show(Store(_root(args)), args.name, args.version)
    lineage = shown["lineage"]
    lines = [
        f"{shown['name']} {shown['version']}  {shown['uri']}",
        f"stages: {', '.join(shown['stages']) or '-'}",
        f"published {lineage['created_at']} by {lineage['by']}; git {lineage.get('git_commit') or '?'}; "
        f"run {lineage.get('run_id') or '-'}; compared as {lineage['candidate']!r}",
        "",
        *_table([["file", "sha256"], *sorted(shown["files"].items())]),
        "",
        *_table([["metric", "value"], *sorted(shown["metrics"].items())]),
    ]
    _print(args, shown, lines)


def _diff(args: argparse.Namespace) -> None:
    rows = read.diff(Store(_root(args)), args.name, args.a, args.b)
    lines = [[r["metric"], r[args.a], r[args.b], r["change"]] for r in rows]
    _print(args, rows, _table([["metric", args.a, args.b, "change"], *lines]))


def _gates(args: argparse.Namespace) -> int:
    evidence = promotion.gates(_root(args), args.name, args.version)
    lines = [f"policy v{evidence.policy_version}", *(g.describe() for g in evidence.gates)]
    _print(args, [g.as_dict() for g in evidence.gates], lines)
    return 1 if failures(evidence.gates) else 0


def _policy(args: argparse.Namespace) -> None:
    root = _root(args)
    if args.action == "set":
        event, changed = policy.set_policy(root, args.name, _gates_config(args), args.reason)
        state = "in force" if changed else "in force already, unchanged"
        _print(args, event, [f"{args.name}: policy v{event['policy_version']} {state}: {event['policy']}"])
        return
    events = audit.trusted(Store(root), args.name)
    config, version = policy.in_force(events)
    rows = [[e["policy_version"], e["at"], e["by"], e["reason"]] for e in policy.history(events)]
    data = {"name": args.name, "policy_version": version, "gates": config_dict(config), "history": rows}
    defaults = "" if version else " (the defaults)"
    lines = [f"{args.name}: policy v{version}{defaults}", str(data["gates"])]
    _print(args, data, [*lines, "", *_table([["version", "at", "by", "reason"], *rows])] if rows else lines)


def _promote(args: argparse.Namespace) -> None:
    move = promotion.promote(_root(args), args.name, args.version, args.stage, args.force, args.reason)
    _print(args, move.as_dict(), [_moved(args, move), *(g.describe() for g in move.gates)])


def _moved(args: argparse.Namespace, move: promotion.Move) -> str:
    overrode = f" (forced: {', '.join(move.event['overrode'])})" if move.event["forced"] else ""
    return f"{args.name} {args.stage}: {move.alias.previous or '-'} -> {move.alias.version}{overrode}"


def _rollback(args: argparse.Namespace) -> None:
    move = promotion.rollback(_root(args), args.name, args.stage, args.reason, args.force)
    _print(args, move.as_dict(), [_moved(args, move), *(g.describe() for g in move.gates)])


def _verify(args: argparse.Namespace) -> int:
    count, problems = audit.verify(Store(_root(args)), args.name)
    verdict = f"{args.name}: {count} events, " + (f"{len(problems)} problem(s)" if problems else "verified")
    _print(args, {"name": args.name, "events": count, "problems": problems}, [verdict, *problems])
    return 1 if problems else 0


def _resolve(args: argparse.Namespace) -> None:
    uri = read.resolve(_root(args), args.name, args.stage)
    _print(args, {"name": args.name, "stage": args.stage, "uri": uri}, [uri])


def _audit(args: argparse.Namespace) -> None:
    events = audit.events(Store(_root(args)), args.name)
    rows = [
        [
            e["at"],
            e["by"],
            e["action"],
            e.get("stage") or "-",
            e.get("from") or "-",
            e["to"] or (f"policy v{e['policy_version']}" if e["action"] == "policy" else "-"),
            ", ".join(e.get("overrode") or []),
            e.get("reason") or "",
        ]
        for e in events
    ]
    _print(args, events, _table([["at", "by", "action", "stage", "from", "to", "overrode", "reason"], *rows]))


def _pull(args: argparse.Namespace) -> None:
    version = read.pull(Store(_root(args)), args.name, args.ref, args.out)
    _print(
        args,
        {"name": args.name, "version": version, "out": args.out},
        [f"{args.name} {version} -> {args.out} (verified)"],
    )
