"""``compclip serve``: the inspection service on KServe's V1 and V2 protocols.

Loads a compclip model folder (a local path, a registry version ``s3://BUCKET/registry/NAME/vN/``
or KServe's ``/mnt/models``), verifies its manifest, and answers inspections (does the model
prefer a specification caption over the hard negatives generated from it?) and zero-shot
queries on /v1/models/NAME:predict and /v2/models/NAME/infer; /metrics for Prometheus.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.config import add_flag, load_section, override_from
from compclip.devices import DEVICES
from compclip.serve.config import ServeConfig

EXAMPLES = """examples:
  compclip serve --model models/degla --name compclip
  compclip serve --model s3://bucket/registry/compclip/v3/ --name compclip --port 9000
  compclip serve --model /mnt/models --name compclip --host 0.0.0.0 --port 8080 \\
      --manifest-sha256 $COMPCLIP_MANIFEST_SHA256   # in a pod, as `compclip deploy render` sets it
  compclip serve --model models/degla --name compclip --max-batch 16 --params params.yaml

  curl -s localhost:8080/v1/models/compclip:predict -d '{"instances": [{"image": "'$(base64 -w0 scene.png)'",
      "specification": "a red cube to the left of a blue ring"}]}'
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "serve", "the inspection service (KServe V1/V2)", EXAMPLES, description=__doc__
    )
    parser.add_argument("--model", required=True, help="model folder, s3:// registry version or /mnt/models")
    parser.add_argument("--name", required=True, help="model name in the endpoint paths")
    defaults = ServeConfig()
    add_flag(parser, defaults, "--host", help="address to bind (0.0.0.0 in a container)")
    add_flag(parser, defaults, "--port", type=int, help="HTTP port")
    add_flag(parser, defaults, "--access-log", action="store_true", default=None, help="a line per request")
    add_flag(parser, defaults, "--device", choices=DEVICES, help="where the model runs")
    add_flag(parser, defaults, "--threads", type=int, help="torch CPU threads of the forward")
    parser.add_argument("--params", type=Path, help="params.yaml; its `serve` section sets defaults")
    add_flag(parser, defaults, "--max-batch", type=int, help="instances per forward across requests; 1: off")
    add_flag(parser, defaults, "--batch-wait-ms", type=float, help="how long a batch waits for more requests")
    add_flag(parser, defaults, "--max-payload-bytes", type=int, help="largest request body, in bytes")
    parser.add_argument(
        "--manifest-sha256", help="serve a folder only if its manifest.json has this sha256 (as aliased)"
    )
    add_flag(parser, defaults, "--max-pixels", type=int, help="largest image, in pixels")
    add_flag(parser, defaults, "--max-request-pixels", type=int, help="pixels of all of a request's images")
    add_flag(parser, defaults, "--max-candidates", type=int, help="most candidates or labels per instance")
    add_flag(parser, defaults, "--max-request-texts", type=int, help="most texts scored in one request")
    parser.set_defaults(func=_serve)


def _config(args: argparse.Namespace) -> ServeConfig:
    config = load_section(ServeConfig, args.params, "serve")
    runtime = (
        "host",
        "port",
        "access_log",
        "device",
        "threads",
        "max_batch",
        "batch_wait_ms",
        "manifest_sha256",
    )
    limits = ("max_payload_bytes", "max_pixels", "max_request_pixels", "max_candidates", "max_request_texts")
    return override_from(config, args, *runtime, *limits)


def _serve(args: argparse.Namespace) -> None:
    from compclip.serve import serve  # kserve and torch: loaded to serve, not for --help

    serve(args.model, args.name, _config(args))
