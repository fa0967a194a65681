"""The model at work: queries to answers in one forward pass, and the micro-batcher that feeds it.

:class:`Engine` embeds a batch of queries' images in one pass and their texts (each distinct text
once, recent ones from a cache) and scores them (:mod:`compclip.serve.inspection`). It runs on
one worker thread, so torch's own threads are never oversubscribed. :class:`Batcher` queues the
queries of concurrent requests and hands the engine up to ``max_batch`` at a time: those queued
while the previous pass ran, plus those arriving within ``wait_ms``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from compclip.models import ModelBundle
from compclip.models.text import encode_text
from compclip.serve import inspection
from compclip.serve.payloads import Query

MAX_LOGIT_SCALE = 100.0  # CLIP clamps its learnt temperature here


class Engine:
    """A model placed on a device, answering batches of queries."""

    def __init__(self, bundle: ModelBundle, device: torch.device, text_cache: int) -> None:
        self.device = device
        self.model = bundle.model.to(device).eval()
        self.tokenizer = bundle.tokenizer
        self.logit_scale = min(float(self.model.logit_scale.detach().exp()), MAX_LOGIT_SCALE)
        self.capacity = text_cache
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @torch.inference_mode()
    def images(self, tensors: Sequence[torch.Tensor]) -> np.ndarray:
        features = self.model.encode_image(torch.stack(list(tensors)).to(self.device))
        return F.normalize(features.float(), dim=-1).cpu().numpy()

    @torch.inference_mode()
    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of ``texts``; distinct new ones embedded in one sorted batch
        (neighbours share prefixes, which :func:`~compclip.models.text.encode_text` computes once)."""
        new = sorted({t for t in texts if t not in self.cache})
        fresh: dict[str, np.ndarray] = {}
        if new:
            features = encode_text(self.model, self.tokenizer(new).to(self.device))
            fresh = dict(zip(new, F.normalize(features.float(), dim=-1).cpu().numpy(), strict=True))
        rows = np.stack([fresh[t] if t in fresh else self.cache[t] for t in texts])
        for text in set(texts) - fresh.keys():
            self.cache.move_to_end(text)
        if self.capacity:
            self.cache.update(fresh)
            while len(self.cache) > self.capacity:
                self.cache.popitem(last=False)
        return rows

    def answer(self, queries: Sequence[Query]) -> list[dict]:
        """One answer per query, in order."""
        images = self.images([q.image for q in queries])
        table = self.texts([t for q in queries for t in _texts(q)])
        answers, start = [], 0
        for query, image in zip(queries, images, strict=True):
            rows = table[start : start + len(_texts(query))]
            start += len(rows)
            if query.kind == "inspect":
                answers.append(
                    inspection.inspect(
                        image, query.specification, rows[0], query.texts, query.types, rows[1:]
                    )
                )
            else:
                answers.append(inspection.zeroshot(image, query.texts, rows, self.logit_scale))
        return answers


def _texts(query: Query) -> tuple[str, ...]:
    """The texts a query's image is scored against: the specification first, for an inspection."""
    return (query.specification, *query.texts) if query.kind == "inspect" else query.texts


class Batcher:
    """Runs ``answer`` on one worker thread over batches of the queries submitted concurrently
    (a batch holds whole requests, so one request larger than ``max_batch`` runs alone).

    ``observe(n_queries, seconds)`` is told the size and duration of every pass.
    """

    def __init__(
        self,
        answer: Callable[[Sequence[Query]], list[dict]],
        max_batch: int,
        wait_ms: float,
        observe: Callable[[int, float], None] = lambda n, s: None,
    ) -> None:
        self.answer, self.max_batch, self.wait = answer, max(1, max_batch), wait_ms / 1000
        self.observe = observe
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    async def submit(self, queries: list[Query]) -> list[dict]:
        """The answers to ``queries`` (one request's), computed with whatever else is queued."""
        if self.task is None:  # started on first use, inside the server's event loop
            self.queue = asyncio.Queue()
            self.task = asyncio.get_running_loop().create_task(self._run())
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((queries, done))
        return await done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0][0])
            deadline = loop.time() + self.wait
            while size < self.max_batch:
                try:
                    if self.queue.empty() and self.wait > 0:
                        item = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
                    else:
                        item = self.queue.get_nowait()
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                batch.append(item)
                size += len(item[0])
            queries = [q for qs, _ in batch for q in qs]
            started = time.perf_counter()
            try:
                answers = await loop.run_in_executor(self.worker, self.answer, queries)
            except Exception as err:  # a failed pass fails its requests, never the batcher
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                continue
            self.observe(len(queries), time.perf_counter() - started)
            start = 0
            for qs, done in batch:
                if not done.done():  # a client that went away cancelled its future
                    done.set_result(answers[start : start + len(qs)])
                start += len(qs)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)
