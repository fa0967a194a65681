"""Where a DeGLA step's time goes, against a plain CLIP fine-tuning step at the same batch.

Times each phase of both steps on one open_clip model (random weights, synthetic images, the real
captions of bench/train_step.py: SugarCrepe positives with K = 4 rule negatives): the student's
image and text forwards, the EMA teacher's forwards, loss and backward, the optimizer and the EMA
update. It then prints DeGLA's floor: the CLIP step plus only the work DeGLA's definition adds
(the teacher's forward over the image and all captions, and the negatives' text forward and
backward, measured as DeGLA's text forward and backward less CLIP's). The floor's ratio to CLIP
is what any exact implementation of the method pays; what DeGLA costs above it is overhead.

    .venv/bin/python bench/step_phases.py --model ViT-B-32 --batch 16
    .venv/bin/python bench/step_phases.py --model compclip-tiny-rn --batch 64 --steps 12
    .venv/bin/python bench/step_phases.py --teacher-bf16    # the teacher's forwards in bf16 autocast

``--teacher-bf16`` is not what the trainer does: it measures one way to a cheaper teacher and how
far its targets move (1 - cosine to the fp32 targets, the same weights and inputs).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections import defaultdict

import torch

from compclip.models import create_model
from compclip.models.text import encode_text
from compclip.train.ema import ema_update, make_teacher
from compclip.train.loop import param_groups
from compclip.train.losses import Embeddings, TrainingLoss
from train_step import real_captions

K = 4


class Clock:
    """Seconds per named phase, one list entry per step."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[phase].append(now - self.last)
        self.last = now

    def median(self, phase: str, skip: int) -> float:
        return statistics.median(self.times[phase][skip:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ViT-B-32", help="open_clip architecture name")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6, help="timed steps of each method")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--teacher-bf16", action="store_true", help="teacher forwards in bf16 autocast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    bundle = create_model(args.model)
    student = bundle.model.to(memory_format=torch.channels_last)
    teacher = make_teacher(student)
    optimizer = torch.optim.AdamW(param_groups(student, 0.1), lr=1e-6, fused=True)
    degla, clip = TrainingLoss("degla"), TrainingLoss("clip")
    size = student.visual.image_size
    images = torch.randn(args.batch, 3, *((size, size) if isinstance(size, int) else size))
    images = images.contiguous(memory_format=torch.channels_last)
    n = args.steps + args.warmup
    captions, negatives = real_captions(args.batch * n, K)

    def precision() -> contextlib.AbstractContextManager:
        if args.teacher_bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    clock = Clock()
    for step in range(n):
        batch = slice(step * args.batch, (step + 1) * args.batch)
        positives = bundle.tokenizer(captions[batch])
        texts = torch.cat([positives, bundle.tokenizer(negatives[batch.start * K : batch.stop * K])])

        clock.lap("untimed")
        image = student.encode_image(images, normalize=True)
        clock.lap("clip: image forward")
        text = encode_text(student, positives, normalize=True)
        clock.lap("clip: text forward")
        clip(Embeddings(image, text, None), student.logit_scale.exp())["total"].backward()
        clock.lap("clip: loss + backward")
        optimizer.step()
        optimizer.zero_grad()
        clock.lap("clip: optimizer")

        image = student.encode_image(images, normalize=True)
        clock.lap("degla: image forward")
        text = encode_text(student, texts, normalize=True)
        clock.lap("degla: text forward (positives + negatives)")
        with torch.no_grad(), precision():
            teacher_image = teacher.encode_image(images, normalize=True)
            clock.lap("degla: teacher image forward")
            teacher_text = encode_text(teacher, texts, normalize=True)
            clock.lap("degla: teacher text forward")
        split = len(positives)
        losses = degla(
            Embeddings(image, text[:split], text[split:]),
            student.logit_scale.exp(),
            Embeddings(teacher_image, teacher_text[:split], teacher_text[split:]),
        )
        losses["total"].backward()
        clock.lap("degla: loss + backward")
        optimizer.step()
        optimizer.zero_grad()
        clock.lap("degla: optimizer")
        ema_update(teacher, student, 0.9996)
        clock.lap("degla: EMA update")
        if args.teacher_bf16 and step == n - 1:  # untimed: how far bf16 moves the teacher's targets
            with torch.no_grad():
                exact = [teacher.encode_image(images, normalize=True), encode_text(teacher, texts, True)]
            moved = 1 - (torch.cat(exact) * torch.cat([teacher_image, teacher_text]).float()).sum(-1)
            print(f"  bf16 teacher: 1 - cosine to fp32, mean {moved.mean():.1e}, max {moved.max():.1e}")

    def total(method: str) -> float:
        return sum(clock.median(p, args.warmup) for p in clock.times if p.startswith(method))

    print(f"{args.model}, batch {args.batch}, K={K}, {args.threads} threads, median of {args.steps} steps")
    for phase in clock.times:
        if phase != "untimed":
            print(f"  {phase:45s} {clock.median(phase, args.warmup):7.3f} s")
    step_clip, step_degla = total("clip"), total("degla")
    added = sum(
        clock.median(ours, args.warmup) - (clock.median(theirs, args.warmup) if theirs else 0.0)
        for ours, theirs in (
            ("degla: teacher image forward", None),
            ("degla: teacher text forward", None),
            ("degla: text forward (positives + negatives)", "clip: text forward"),
            ("degla: loss + backward", "clip: loss + backward"),
        )
    )
    print(f"  CLIP step {step_clip:.3f} s; DeGLA step {step_degla:.3f} s ({step_degla / step_clip:.2f}x)")
    print(
        f"  DeGLA floor: CLIP + teacher forwards + the negatives' text forward and backward = "
        f"{step_clip + added:.3f} s ({(step_clip + added) / step_clip:.2f}x)"
    )


if __name__ == "__main__":
    main()
