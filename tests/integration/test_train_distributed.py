"""The DeGLA loss over features gathered from two real processes (gloo on CPU).

Each process holds its half of the batch; ``gather_with_grad`` concatenates the halves keeping
their gradients. Every process must then compute the loss of the whole batch, and each half must
get the whole batch's gradient times the number of processes: DDP averages parameter gradients
over processes, which divides that factor out again.
"""

import socket
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from compclip.train.loop import gather_with_grad
from compclip.train.losses import Embeddings, TrainingLoss

pytestmark = pytest.mark.integration
WORLD, N, K, DIM = 2, 3, 2, 8
SCALE = torch.tensor(5.0, dtype=torch.float64)


def halves(seed: int) -> list[Embeddings]:
    """Normalised image, positive and K-negative embeddings, one set per process."""
    g = torch.Generator().manual_seed(seed)

    def rows(n):
        return F.normalize(torch.randn(n, DIM, generator=g, dtype=torch.float64), dim=-1)

    return [Embeddings(rows(N), rows(N), rows(N * K)) for _ in range(WORLD)]


def whole(parts: list[Embeddings]) -> Embeddings:
    return Embeddings(*(torch.cat(column) for column in zip(*parts, strict=True)))


def worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        student = Embeddings(*(t.clone().requires_grad_() for t in halves(0)[rank]))
        teacher = halves(1)[rank]
        loss = TrainingLoss("degla", gather=gather_with_grad(SimpleNamespace(num_processes=WORLD)))
        parts = loss(student, SCALE, teacher)
        parts["total"].backward()
        torch.save(
            {"parts": {k: v.item() for k, v in parts.items()}, "grads": [t.grad for t in student]},
            f"{out}/rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gathered_loss_and_gradients_match_one_process(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=WORLD)
    student = Embeddings(*(t.clone().requires_grad_() for t in whole(halves(0))))
    single = TrainingLoss("degla")(student, SCALE, whole(halves(1)))
    single["total"].backward()
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for name in ("global", "igc", "tgc", "distill", "total"):
            assert got["parts"][name] == pytest.approx(single[name].item(), rel=1e-12)
        for mine, full, per_image in zip(got["grads"], student, (1, 1, K), strict=True):
            rows = slice(rank * N * per_image, (rank + 1) * N * per_image)
            torch.testing.assert_close(mine, WORLD * full.grad[rows])
