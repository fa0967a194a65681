"""Model sources: a saved folder and its S3 copy (SeaweedFS) load to the same weights; tampering fails."""

import hashlib
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
    with pytest.raises(UserError, match=r"not listed in the manifest \['open_clip_pytorch_model.bin'\]"):
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


def test_an_unlisted_model_source_file_cannot_redirect_a_model_folder(saved, tmp_path):
    """A model_source.json slipped into a version would load another model; it is not in the manifest."""
    from compclip.cli import main

    _, folder = saved
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "model_source.json").write_text('{"source": "compclip-tiny-rn"}')
    with pytest.raises(UserError, match=r"not listed in the manifest \['model_source.json'\]"):
        load_model(str(copy))
    assert main(["models", "check", str(copy)]) == 2
    (copy / "model_source.json").unlink()
    manifest = (copy / "manifest.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()
    assert load_model(str(copy), manifest_sha256=digest).name == "compclip-tiny-rn"
    (copy / "manifest.json").write_bytes(manifest.replace(b'"format"', b'"format" ', 1))
    with pytest.raises(UserError, match=f"not the manifest with sha256 {digest}"):
        load_model(str(copy), manifest_sha256=digest)


def test_a_reference_folder_names_another_source(tmp_path):
    from compclip.models.loading import write_reference

    write_reference("compclip-tiny-rn", tmp_path / "ref")
    assert load_model(str(tmp_path / "ref")).name == "compclip-tiny-rn"
