"""The inspection service: a KServe predictor that tells whether a model prefers an image's
specification caption over the hard negatives generated from it, and scores labels zero-shot.

Its names are imported on first use: ``compclip inspect``, an HTTP client, imports this package
without loading kserve, torch or open_clip.
"""

import importlib
import sys

_LAZY = {
    "InspectionModel": "compclip.serve.model",
    "ServeConfig": "compclip.serve.config",
    "serve": "compclip.serve.server",
}

__all__ = ["InspectionModel", "ServeConfig", "serve"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # kserve parses sys.argv when first imported (kserve.model_server); compclip's flags are not its
    # flags (``--model`` would read as its ``--model_name``), so it sees none.
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        return getattr(importlib.import_module(_LAZY[name]), name)
    finally:
        sys.argv = argv
