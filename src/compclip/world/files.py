"""Writing the world's images as PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def write_png(path: Path, image: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    path.write_bytes(buffer.getvalue())
