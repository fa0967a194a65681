"""Compositional benchmark loaders, one module per annotation format, and image-to-text scoring."""
