"""The inspection service's settings: where it listens, what it accepts, how it batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from compclip.negatives.types import TYPES
from compclip.negatives.validity import FilterConfig


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"  # 0.0.0.0 only inside a container or pod
    port: int = 8080
    access_log: bool = False  # uvicorn's line per request (the Prometheus metrics count requests)
    device: str = "cpu"  # cpu | cuda | auto
    # torch CPU threads of the forward: on shared or CPU-limited machines more threads wait on
    # each other (tiny model, busy 2-core VM: 150 ms a pass with 2 threads, 5 ms with 1)
    threads: int = 1
    # the manifest's sha256 a registry alias pinned (`compclip deploy render` sets it); None: unchecked
    manifest_sha256: str | None = None
    max_payload_bytes: int = 8 << 20  # request body; larger bodies get 413
    # decoding costs CPU by the pixel (a 4096x4096 PNG about 0.4 s), checked from the image header
    # before any decoding: per image, and over all images of a request
    max_pixels: int = 1024 * 1024
    max_request_pixels: int = 4 * 1024 * 1024
    max_candidates: int = 64  # candidate captions or labels per instance
    max_request_texts: int = 256  # texts scored in one request: specifications, candidates, negatives
    max_instances: int = 32  # instances per request
    max_caption_chars: int = 1000  # per caption, label or specification
    types: tuple[str, ...] = TYPES  # hard-negative types generated from a specification
    per_type: int = 2  # generated negatives kept per type
    seed: int = 0  # of the rule generator
    # which generated negatives are valid; a relation replace is never the relation's opposite
    # (that is what invert_relations generates)
    filter: FilterConfig = field(default_factory=lambda: FilterConfig(inverse_relations=False))
    max_batch: int = 16  # instances per forward pass across concurrent requests (1: no batching)
    batch_wait_ms: float = 0.0  # how long a batch waits for more requests (0: only those queued)
    text_cache: int = 4096  # text embeddings kept (0: none)
