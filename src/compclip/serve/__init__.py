"""The inspection service: a KServe predictor that tells whether a model prefers an image's
specification caption over the hard negatives generated from it, and scores labels zero-shot."""

import sys

from compclip.serve.config import ServeConfig

# kserve parses sys.argv when first imported (kserve.model_server); compclip's flags are not its
# flags (``--model`` would read as its ``--model_name``), so it sees none.
_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from compclip.serve.model import InspectionModel
    from compclip.serve.server import serve
finally:
    sys.argv = _argv

__all__ = ["InspectionModel", "ServeConfig", "serve"]
