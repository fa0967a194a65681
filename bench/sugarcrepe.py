"""SugarCrepe's positive captions (COCO), the real captions the benchmarks run on."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sugarcrepe"


def positive_captions(data: Path = DATA) -> list[str]:
    """The unique positive captions of every subset file in ``data``, in file order."""
    files = sorted(data.glob("*.json"))
    return list(dict.fromkeys(item["caption"] for f in files for item in json.loads(f.read_text()).values()))
