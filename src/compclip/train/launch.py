"""Run a training stage (``train`` or ``pretrain``) in several processes, on one node or many.

``compclip train --processes N`` resolves its inputs and config into a :func:`job`, then
:func:`launch` starts the processes through accelerate's launcher (``accelerate launch
--multi_gpu``, torchrun underneath; gloo on a machine without GPUs), each running :func:`work`,
which calls the stage with the job's inputs and config. The batch size is the global batch, split evenly over
all processes, so the run computes the same thing with any process count.

On a node of a Kubeflow Trainer TrainJob (torch runtime) the same command runs on every node: the
runtime's ``PET_NNODES``, ``PET_NODE_RANK``, ``PET_MASTER_ADDR`` and ``PET_MASTER_PORT`` name the
node count, this node and the rendezvous (:func:`topology`). A process started by a launcher
already (``LOCAL_RANK`` set: torchrun, ``accelerate launch``) runs the stage itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
import sys
from typing import Any, NamedTuple

from compclip.errors import UserError

log = logging.getLogger(__name__)


class Topology(NamedTuple):
    nodes: int
    node_rank: int
    master_addr: str
    master_port: int


def launched() -> bool:
    """Whether this process is one rank of a launched group (and must not launch again)."""
    return "LOCAL_RANK" in os.environ


def spread(processes: int) -> bool:
    """Whether a run of ``processes`` per node must be launched: several processes or nodes, and
    this process not launched already."""
    return (processes > 1 or topology().nodes > 1) and not launched()


def topology(env: dict[str, str] | None = None) -> Topology:
    """The nodes of the run from torch's ``PET_*`` variables (a Trainer torch runtime sets them);
    one node on the loopback with a free port when they are absent."""
    env = os.environ if env is None else env
    nodes = int(env.get("PET_NNODES", "1"))
    if nodes == 1:
        return Topology(1, 0, "127.0.0.1", int(env.get("PET_MASTER_PORT", 0)) or _free_port())
    missing = [k for k in ("PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT") if k not in env]
    if missing:
        raise UserError(
            f"PET_NNODES is {nodes} but {', '.join(missing)} is not set; run through a torch runtime"
        )
    return Topology(nodes, int(env["PET_NODE_RANK"]), env["PET_MASTER_ADDR"], int(env["PET_MASTER_PORT"]))


def job(stage: str, inputs: dict[str, Any], config: Any, batch_size: int) -> dict:
    """What a process runs: ``stage(**inputs, config=config)``, with the run's global batch size."""
    return {"stage": stage, "inputs": inputs, "config": dataclasses.asdict(config), "batch_size": batch_size}


def launch(spec: dict, processes: int) -> int:
    """Run the :func:`job` ``spec`` in ``processes`` processes on this node (of :func:`topology`'s
    nodes); returns 0, or 2 when a process stopped on a user error (it printed why); a process that
    dies otherwise is one :class:`UserError` line."""
    import torch
    from accelerate.commands.launch import launch_command, launch_command_parser
    from accelerate.utils import patch_environment
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from compclip.train.run import check_processes

    if processes < 1:
        raise UserError(f"--processes must be at least 1, not {processes}")
    where = topology()
    check_processes(spec["batch_size"], processes * where.nodes)
    argv = [
        "--multi_gpu",
        *("--num_processes", str(processes * where.nodes), "--num_machines", str(where.nodes)),
        *("--machine_rank", str(where.node_rank), "--main_process_ip", where.master_addr),
        *("--main_process_port", str(where.master_port), "--mixed_precision", "no"),
        *("--dynamo_backend", "no", "--module", __name__, json.dumps(spec)),
    ]
    log.info(
        "%s: %d processes x %d nodes (this is node %d)",
        spec["stage"],
        processes,
        where.nodes,
        where.node_rank,
    )
    elastic = logging.getLogger("torch.distributed.elastic")
    level, elastic.level = elastic.level, logging.CRITICAL  # a failed rank says why itself
    try:
        with patch_environment(**({} if torch.cuda.is_available() else {"ACCELERATE_USE_CPU": "1"})):
            launch_command(launch_command_parser().parse_args(argv))
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        if failure.exitcode == 2:  # a user error, which that process has said in one line
            return 2
        how = (
            f"was killed by signal {-failure.exitcode}"
            if failure.exitcode < 0
            else f"exited with {failure.exitcode}"
        )
        raise UserError(
            f"process {rank} of {processes * where.nodes} {how}; "
            "rerun the same command to continue from the last checkpoint"
        ) from None
    finally:
        elastic.level = level
    return 0


def run(spec: dict, processes: int = 1) -> int | None:
    """The :func:`job` here: launched over the processes and nodes when there are several (and
    this process is not one of them already), else run in this process."""
    if spread(processes):
        return launch(spec, processes)
    return work(spec)


def work(spec: dict) -> None:
    """One process: the stage of a :func:`job`, with its inputs and config."""
    from compclip.config import from_dict

    if spec["stage"] == "pretrain":
        from compclip.pretrain import PretrainConfig as Config
        from compclip.pretrain import pretrain as stage
    else:
        from compclip.train.loop import TrainConfig as Config
        from compclip.train.run import train as stage
    stage(**spec["inputs"], config=from_dict(Config, spec["config"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> int:
    """``python -m compclip.train.launch [--processes N] JOB_JSON``: a node of a TrainJob, or a launched
    process; one line and exit 2 on a user error, as ``compclip``."""
    parser = argparse.ArgumentParser(prog="python -m compclip.train.launch")
    parser.add_argument("--processes", type=int, default=1, help="processes on this node")
    parser.add_argument("job", help="the job, as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(args.job)
    try:
        return run(spec, args.processes) or 0
    except UserError as err:
        rank = f" (process {os.environ['RANK']})" if launched() else ""
        print(f"compclip {spec['stage']}{rank}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
