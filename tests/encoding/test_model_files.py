"""The model on disk: its folder, weight files, model_version and identity, without loading it."""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

import pytest

from interests.encoding import model_files
from interests.encoding.errors import ModelNotFoundError
from interests.encoding.model_files import default_model_path, model_identity, model_version_for


def _fake_model_dir(root: Path, weights: bytes, name: str = "model.safetensors") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text("{}")
    (root / name).write_bytes(weights)
    return root


def test_model_version_is_the_name_and_the_weights_sha256_prefix(tmp_path):
    model_dir = _fake_model_dir(tmp_path / "m", b"weights v1")
    expected = hashlib.sha256(b"weights v1").hexdigest()[:12]
    assert model_version_for(model_dir, "tiny") == f"tiny@{expected}"


def test_model_version_falls_back_to_pytorch_model_bin(tmp_path):
    model_dir = _fake_model_dir(tmp_path / "m", b"old format", name="pytorch_model.bin")
    expected = hashlib.sha256(b"old format").hexdigest()[:12]
    assert model_version_for(model_dir, "tiny") == f"tiny@{expected}"


def test_model_version_follows_changed_weights(tmp_path):
    model_dir = _fake_model_dir(tmp_path / "m", b"weights v1")
    first = model_version_for(model_dir, "tiny")
    (model_dir / "model.safetensors").write_bytes(b"weights v2, retrained")
    assert model_version_for(model_dir, "tiny") != first


def test_model_version_hashes_a_file_once(tmp_path, monkeypatch):
    model_dir = _fake_model_dir(tmp_path / "m", b"weights to hash once")
    calls = []

    def counting_sha256(*args):
        calls.append(args)
        return hashlib.sha256(*args)

    monkeypatch.setattr(model_files, "hashlib", types.SimpleNamespace(sha256=counting_sha256))
    assert model_version_for(model_dir) == model_version_for(model_dir)
    assert len(calls) == 1


def test_model_without_weights_is_refused(tmp_path):
    model_dir = tmp_path / "empty"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="no weights"):
        model_version_for(model_dir)


def test_default_model_path_is_the_packaged_minilm():
    path = default_model_path()
    assert (path / "config.json").is_file()
    assert (path / "model.safetensors").is_file()
    assert (path / "1_Pooling" / "config.json").is_file()

def test_model_identity_names_the_packaged_model_without_loading_it():
    identity = model_identity("", "all-MiniLM-L6-v2")
    assert identity.dim == 384
    assert identity.model_dir == default_model_path().resolve()
    assert identity.model_version == model_version_for(identity.model_dir, "all-MiniLM-L6-v2")
    assert identity.model_version.startswith("all-MiniLM-L6-v2@") and len(identity.model_version.split("@")[1]) == 12


def test_model_identity_of_a_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        model_identity(tmp_path, "x")


def test_an_empty_model_path_means_the_packaged_model():
    assert model_files.resolve_model_dir("") == model_files.resolve_model_dir(None) == default_model_path().resolve()
