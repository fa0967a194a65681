"""Load on the inspection service: 16 concurrent clients for 60 s on loopback, p50/p95/p99 latency,
throughput and errors, without and with batching; the server's memory (resident set when idle,
after warm-up, and its peak), the CPU time per request of the server and of this load generator
(which shares the cores), and the machine's load average over each run.

The service runs as ``compclip serve`` in a child process (:mod:`compclip.serve.local`) with a
tiny world-size model on the CPU (``--model`` folder, else ``compclip-tiny-rn`` with random
weights: the forward costs the same). Requests are inspections of rendered world scenes against
the hard negatives generated from their captions (a pool of ``--pool`` scenes, each sent once
before the clock starts, so negatives and text embeddings are cached as in steady state; the cold
latency of that first pass is reported too). Runs, each against a fresh server:

- ``single``: one instance per request, no server batching (``--max-batch 1``);
- ``micro``: one instance per request, the server batching concurrent requests (``--max-batch 16``);
- ``micro-wait5``: the same, a batch waiting up to 5 ms for more requests;
- ``v2-micro``: the same over the V2 protocol;
- ``client8``: eight instances per request (``--max-batch 16``);
- ``single-threads2``: ``single`` with two torch threads instead of one.

    .venv/bin/python bench/serve_load.py [--seconds 60] [--clients 16] [--runs single micro]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from compclip.models import create_model, save_model
from compclip.serve import local
from compclip.world import CorpusSampler, Renderer
from compclip.world.corpus import CorpusConfig

NAME = "compclip"
RUNS = {  # name: (server flags, instances per request, protocol)
    "single": (("--max-batch", "1"), 1, "v1"),
    "micro": (("--max-batch", "16"), 1, "v1"),
    "micro-wait5": (("--max-batch", "16", "--batch-wait-ms", "5"), 1, "v1"),
    "v2-micro": (("--max-batch", "16"), 1, "v2"),
    "client8": (("--max-batch", "16"), 8, "v1"),
    "single-threads2": (("--max-batch", "1", "--threads", "2"), 1, "v1"),
}


def scenes(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """``n`` rendered world scenes (the `pairs` mix, rich in two-object scenes) as (base64 PNG, caption)."""
    world = CorpusConfig(mix="pairs").world()
    sampler, renderer = CorpusSampler(world), Renderer(world)
    out = []
    for index in range(n):
        scene, caption = sampler.item(seed, index)
        buffer = io.BytesIO()
        Image.fromarray(renderer.render(scene)).save(buffer, format="PNG")
        out.append((base64.b64encode(buffer.getvalue()).decode(), caption))
    return out


def body(items: list[tuple[str, str]], protocol: str) -> tuple[str, dict]:
    if protocol == "v1":
        return f"/v1/models/{NAME}:predict", {
            "instances": [{"image": i, "specification": c} for i, c in items]
        }
    queries = [json.dumps({"specification": c}) for _, c in items]
    inputs = [
        {"name": "image", "shape": [len(items)], "datatype": "BYTES", "data": [i for i, _ in items]},
        {"name": "query", "shape": [len(items)], "datatype": "BYTES", "data": queries},
    ]
    return f"/v2/models/{NAME}/infer", {"inputs": inputs}


async def warm(url: str, pool: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[float]]:
    """Send each scene once; keep those whose caption yields negatives; cold latencies in ms."""
    kept, cold = [], []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for item in pool:
            path, payload = body([item], "v1")
            start = time.perf_counter()
            response = await client.post(path, json=payload)
            cold.append((time.perf_counter() - start) * 1000)
            if response.status_code == 200:
                kept.append(item)
    return kept, cold


async def load(url: str, pool, clients: int, seconds: float, per_request: int, protocol: str) -> dict:
    latencies, errors, counter = [], [], iter(range(1 << 62))

    async def client_loop(client: httpx.AsyncClient, deadline: float) -> None:
        while time.perf_counter() < deadline:
            k = next(counter)
            items = [pool[(k * per_request + j) % len(pool)] for j in range(per_request)]
            path, payload = body(items, protocol)
            start = time.perf_counter()
            try:
                response = await client.post(path, json=payload)
                ok = response.status_code == 200
            except httpx.HTTPError as err:
                ok, response = False, err
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors.append(str(response))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, started + seconds) for _ in range(clients)))
        wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
        "requests_per_s": len(latencies) / wall, "instances_per_s": len(latencies) * per_request / wall,
        "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)), "wall_s": wall,
    }  # fmt: skip


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident set now (VmRSS) and at its peak (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {key: int(value.split()[0]) / 1024 for key, value in fields.items()}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used, all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_stats(url: str) -> dict[str, float]:
    """The service's counters: queries and seconds of its forward passes, and the number of passes."""
    text = httpx.get(f"{url}/metrics").text
    found = {}
    for name, key in (
        ("queries", "batch_queries_sum"),
        ("seconds", "pass_seconds_sum"),
        ("passes", "pass_seconds_count"),
    ):
        match = re.search(rf"^compclip_serve_{key}\{{[^}}]*\}} (\S+)$", text, re.M)
        found[name] = float(match.group(1)) if match else 0.0
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder (default: compclip-tiny-rn, random weights)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pool", type=int, default=64, help="distinct scenes sent")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serve-load-"))
    model = args.model
    if model is None:
        model = str(work / "model")
        save_model(create_model("compclip-tiny-rn", seed=0), model)
    pool = scenes(args.pool)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"commit {commit}, model {args.model or 'compclip-tiny-rn (random init)'}, {args.clients} clients, "
        f"{args.seconds:.0f} s per run, pool of {len(pool)} scenes"
    )
    print(
        "| run | requests | errors | instances/s | requests/s | p50 ms | p95 ms | p99 ms | mean batch "
        "| cold p50 ms | RSS idle / warm / peak MB | load avg start-end |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.runs:
        flags, per_request, protocol = RUNS[name]
        service = local.start(model, NAME, work / f"{name}.log", flags)
        try:
            idle = memory_mb(service.pid)["VmRSS"]
            kept, cold = asyncio.run(warm(service.url, pool))
            warmed = memory_mb(service.pid)["VmRSS"]
            before, load_start = batch_stats(service.url), os.getloadavg()[0]
            cpu_before = cpu_seconds(service.pid), time.process_time()
            result = asyncio.run(load(service.url, kept, args.clients, args.seconds, per_request, protocol))
            cpu_after = cpu_seconds(service.pid), time.process_time()
            after, load_end = batch_stats(service.url), os.getloadavg()[0]
            peak = memory_mb(service.pid)["VmHWM"]
        finally:
            local.stop(service)
        passes = max(after["passes"] - before["passes"], 1)
        mean_batch = (after["queries"] - before["queries"]) / passes
        pass_ms = (after["seconds"] - before["seconds"]) / passes * 1000
        busy = (after["seconds"] - before["seconds"]) / result["wall_s"]
        print(
            f"| {name} | {result['requests']} | {result['errors']} | {result['instances_per_s']:.1f} | "
            f"{result['requests_per_s']:.1f} | {result['p50_ms']:.0f} | {result['p95_ms']:.0f} | "
            f"{result['p99_ms']:.0f} | {mean_batch:.1f} | {np.percentile(cold, 50):.0f} | "
            f"{idle:.0f} / {warmed:.0f} / {peak:.0f} | {load_start:.1f}-{load_end:.1f} |",
            flush=True,
        )
        print(
            f"  forward passes: {pass_ms:.1f} ms each on average; engine thread busy {busy:.0%} of the time"
        )
        requests = max(result["requests"], 1)
        server_ms, client_ms = ((b - a) * 1000 / requests for a, b in zip(cpu_before, cpu_after, strict=True))
        ceiling = os.cpu_count() * 1000 / (server_ms + client_ms)
        print(
            f"  CPU per request: server {server_ms:.1f} ms, load generator {client_ms:.1f} ms "
            f"(the {os.cpu_count()} cores' ceiling: {ceiling:.0f} requests/s)"
        )
        if result["errors"]:
            print(f"  first errors: {result['first_errors']}")
        if len(kept) < len(pool):
            print(f"  {len(pool) - len(kept)} of {len(pool)} captions gave no negatives and were left out")


if __name__ == "__main__":
    main()
