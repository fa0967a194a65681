"""Model sources: a saved folder and its S3 copy (SeaweedFS) load to the same weights; tampering fails."""

import shutil

import fsspec
import pytest
import torch

from compclip.errors import UserError
from compclip.models import create_model, load_model, save_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "tiny"
    bundle = create_model("compclip-tiny-rn", seed=3)
    save_model(bundle, folder)
    return bundle, folder


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_folder_and_s3_copy_load_the_saved_weights(saved, s3_server):
    bundle, folder = saved
    assert same_weights(load_model(str(folder)).model, bundle.model)
    fs = fsspec.filesystem("s3")
    fs.put(str(folder) + "/", f"{s3_server.bucket}/registry/tiny/v1/", recursive=True)
    loaded = load_model(f"s3://{s3_server.bucket}/registry/tiny/v1")
    assert same_weights(loaded.model, bundle.model)
    assert loaded.tokenizer(["a red cube"]).shape == bundle.tokenizer(["a red cube"]).shape
    with pytest.raises(UserError, match="no such folder"):
        load_model(f"s3://{s3_server.bucket}/registry/tiny/v2")


def test_tampered_or_pickled_folders_are_refused(saved, tmp_path):
    _, folder = saved
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "open_clip_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="refusing pickle-based weight files"):
        load_model(str(copy))
    (copy / "open_clip_pytorch_model.bin").unlink()
    weights = copy / "open_clip_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match its sha256"):
        load_model(str(copy))


def test_unknown_sources_name_the_choices():
    with pytest.raises(UserError, match=r"unknown model source 'no-such-model'.*compclip-tiny-rn"):
        load_model("no-such-model")
