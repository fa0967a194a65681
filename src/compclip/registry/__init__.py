"""The model registry in S3: immutable versions, aliases moved by compare-and-swap, an audit log.

See :mod:`compclip.registry.layout` for where everything lives and ``docs/registry.md`` for the
commands. :func:`resolve` is what a deployment asks: which version does a stage point to.
"""

from compclip.registry.aliases import resolve

__all__ = ["resolve"]
