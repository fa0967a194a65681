"""open_clip models: tiny configs registered with open_clip, sources, safetensors save/load."""

from compclip.models.loading import (
    ModelBundle,
    ModelSource,
    create_model,
    load_model,
    parse_source,
    save_model,
)

__all__ = ["ModelBundle", "ModelSource", "create_model", "load_model", "parse_source", "save_model"]
