"""The model registry in S3: immutable versions, aliases moved by compare-and-swap, an audit log.

See :mod:`compclip.registry.layout` for where everything lives and ``docs/registry.md`` for the
commands. :func:`resolve` is what a deployment asks (which version does a stage point to);
:func:`publish` and :func:`promote_if_gates_pass` are the pipeline's publish step.
"""

from compclip.registry.gates import GateResult, GatesConfig, evaluate_gates
from compclip.registry.promotion import promote, promote_if_gates_pass, rollback
from compclip.registry.publish import PublishConfig, publish
from compclip.registry.read import resolve

__all__ = [
    "GateResult",
    "GatesConfig",
    "PublishConfig",
    "evaluate_gates",
    "promote",
    "promote_if_gates_pass",
    "publish",
    "resolve",
    "rollback",
]
