"""Each training loss against small hand-computed cases; gradients reach the student only."""

import math

import pytest
import torch

from compclip.train.losses import (
    Embeddings,
    LossConfig,
    TrainingLoss,
    clip_loss,
    distill_loss,
    igc_loss,
    negclip_loss,
    tgc_loss,
)

E1, E2 = [1.0, 0.0], [0.0, 1.0]
N0, N1 = [0.6, 0.8], [0.8, 0.6]  # image 0's and image 1's negative (K = 1)


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def lse(*xs):
    return math.log(sum(math.exp(x) for x in xs))


def test_clip_loss_identity_batch():
    loss = clip_loss(t(E1, E2), t(E1, E2), torch.tensor(2.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2)))


def test_negclip_image_sees_all_negatives_text_sees_positives_only():
    loss = negclip_loss(t(E1, E2), t(E1, E2), t(N0, N1), torch.tensor(1.0))
    row0 = lse(1, 0, 0.6, 0.8) - 1  # image 0 vs [p0, p1, n0, n1]
    row1 = lse(0, 1, 0.8, 0.6) - 1
    text = math.log(1 + math.exp(-1))  # each positive vs both images
    assert loss.item() == pytest.approx(((row0 + row1) / 2 + text) / 2)


def test_igc_contrasts_only_the_images_own_negatives():
    loss = igc_loss(t(E1, E2), t(E1, E2), t(N0, N1), torch.tensor(1.0))
    # image 0: [p0, n0] = [1, 0.6]; image 1: [p1, n1] = [1, 0.6]; other images' texts are excluded
    assert loss.item() == pytest.approx(lse(1, 0.6) - 1)


def test_igc_uses_the_learned_scale():
    assert igc_loss(t(E1), t(E1), t(E2, E2), torch.tensor(3.0)).item() == pytest.approx(
        math.log(1 + 2 * math.exp(-3))
    )


def test_tgc_own_negatives_versus_released_tiling():
    s = 1 / math.sqrt(2)
    student_pos = t(E1, E2)
    teacher_pos = t([s, s], [s, s])
    # image-major negatives: caption 0 owns rows 0-1, caption 1 owns rows 2-3
    negatives = t(E2, E2, E1, [-1.0, 0.0])
    own = tgc_loss(student_pos, teacher_pos, negatives, temperature=0.5)
    # caption 0: anchor E1, candidates [teacher s, E2, E2] -> dots [s, 0, 0]
    # caption 1: anchor E2, candidates [teacher s, E1, -E1] -> dots [s, 0, 0]
    expected = lse(2 * s, 0, 0) - 2 * s
    assert own.item() == pytest.approx(expected)
    tiled = tgc_loss(student_pos, teacher_pos, negatives, temperature=0.5, tiled=True)
    # released code: caption i takes rows j*N + i
    # caption 0: rows 0, 2 (E2, E1); caption 1: rows 1, 3 (E2, -E1)
    row0 = lse(2 * s, 0, 2) - 2 * s
    row1 = lse(2 * s, 2, 0) - 2 * s
    assert tiled.item() == pytest.approx((row0 + row1) / 2)


def test_distill_sum_and_mean():
    student = [t(E1), t(E1, E2)]
    teacher = [t(E2), t(E1, N0)]
    total = 2 + (0.6**2 + 0.2**2)
    assert distill_loss(student, teacher).item() == pytest.approx(total)
    assert distill_loss(student, teacher, "mean").item() == pytest.approx(total / 3)
    with pytest.raises(ValueError):
        distill_loss(student, teacher, "max")


def _random_batch(n=3, k=2, d=5, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)

    def unit(rows):
        x = torch.nn.functional.normalize(torch.randn(rows, d, generator=g), dim=-1)
        return x.requires_grad_(grad)

    return Embeddings(unit(n), unit(n), unit(n * k))


def test_degla_total_is_the_weighted_sum_and_baselines_ignore_extras():
    student, teacher = _random_batch(), _random_batch(seed=1)
    scale = torch.tensor(5.0)
    config = LossConfig(global_weight=1.0, igc_weight=0.2, tgc_weight=0.3, distill_weight=0.05)
    parts = TrainingLoss("degla", config)(student, scale, teacher)
    expected = parts["global"] + 0.2 * parts["igc"] + 0.3 * parts["tgc"] + 0.05 * parts["distill"]
    assert parts["total"].item() == pytest.approx(expected.item())
    assert parts["tgc"].item() == pytest.approx(
        tgc_loss(student.positive, teacher.positive, student.negative).item()
    )
    negclip = TrainingLoss("negclip")(student, scale)
    assert set(negclip) == {"total", "global"} and negclip["total"].item() == pytest.approx(
        parts["global"].item()
    )
    clip = TrainingLoss("clip")(student, scale)
    assert clip["total"].item() == pytest.approx(clip_loss(student.image, student.positive, scale).item())


def test_gradients_reach_the_student_only():
    student, teacher = _random_batch(grad=True), _random_batch(seed=1, grad=True)
    TrainingLoss("degla")(student, torch.tensor(5.0), teacher)["total"].backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in student)
    assert all(x.grad is None for x in teacher)


def test_gathered_batch_keeps_negatives_image_major():
    local, other = _random_batch(n=2, k=2), _random_batch(n=2, k=2, seed=3)
    remote = iter([*other, *other])  # student then teacher: image, positive, negative

    def gather(tensor):
        return torch.cat([tensor, next(remote)])

    both = Embeddings(*(torch.cat([a, b]) for a, b in zip(local, other, strict=True)))
    gathered = TrainingLoss("degla", gather=gather)(local, torch.tensor(4.0), local)
    single = TrainingLoss("degla")(both, torch.tensor(4.0), both)
    for name in ("global", "igc", "tgc", "distill"):
        assert gathered[name].item() == pytest.approx(single[name].item())


def test_bad_method_and_missing_inputs():
    with pytest.raises(ValueError, match="method"):
        TrainingLoss("siglip")
    batch = _random_batch()
    with pytest.raises(ValueError, match="teacher"):
        TrainingLoss("degla")(batch, torch.tensor(1.0))
    with pytest.raises(ValueError, match="negative"):
        TrainingLoss("negclip")(Embeddings(batch.image, batch.positive), torch.tensor(1.0))
