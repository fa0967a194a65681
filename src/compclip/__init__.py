"""compclip: find and repair compositional blind spots in CLIP-style models."""

__version__ = "0.1.0"
