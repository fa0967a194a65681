"""The launcher's pure parts: the nodes from torch's PET_* variables, and a job as JSON."""

import json

import pytest

from compclip.config import from_dict
from compclip.errors import UserError
from compclip.pretrain import PretrainConfig, PretrainData
from compclip.train.launch import Topology, job, topology


def test_one_node_on_the_loopback_unless_a_torch_runtime_names_several():
    alone = topology({})
    assert alone[:3] == (1, 0, "127.0.0.1") and alone.master_port > 0
    env = {
        "PET_NNODES": "2",
        "PET_NODE_RANK": "1",
        "PET_MASTER_ADDR": "job-node-0-0.job",
        "PET_MASTER_PORT": "29400",
    }
    assert topology(env) == Topology(2, 1, "job-node-0-0.job", 29400)


def test_several_nodes_without_a_rendezvous_is_one_line():
    with pytest.raises(UserError, match=r"^PET_NNODES is 2 but PET_MASTER_ADDR, PET_MASTER_PORT is not set"):
        topology({"PET_NNODES": "2", "PET_NODE_RANK": "0"})


def test_a_job_is_json_that_gives_back_its_config():
    config = PretrainConfig(
        model="compclip-tiny-vit", data=PretrainData(batch_size=64, crop_scale=(0.5, 1.0))
    )
    spec = json.loads(json.dumps(job("pretrain", {"data": "d", "out": "o"}, config, 64)))
    assert (
        spec["stage"] == "pretrain"
        and spec["batch_size"] == 64
        and spec["inputs"] == {"data": "d", "out": "o"}
    )
    assert from_dict(PretrainConfig, spec["config"]) == config
