"""pick_device, model_version, the pooling checks and encode_arrow: no model load needed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from interests.encoding import encoder as encoder_module
from interests.encoding.encoder import (
    HashingEncoder,
    InvalidDeviceError,
    InvalidEncoderArgumentError,
    ModelNotFoundError,
    TransformerEncoder,
    UnsupportedModelError,
    default_model_path,
    encode_arrow,
    model_version_for,
    pick_device,
)

torch = pytest.importorskip("torch")


# --- import cost ---------------------------------------------------------------------------


def test_importing_the_encoder_module_does_not_import_torch_or_transformers():
    code = (
        "import sys, interests.encoding, interests.encoding.encoder;"
        "from interests.encoding.encoder import HashingEncoder; HashingEncoder().encode(['x']);"
        "print(sorted(m for m in ('torch', 'transformers', 'pyarrow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- pick_device ---------------------------------------------------------------------------


def _without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _with_cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_auto_is_cpu_without_cuda(monkeypatch):
    _without_cuda(monkeypatch)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device() == torch.device("cpu")


def test_auto_is_cuda_with_cuda(monkeypatch):
    _with_cuda(monkeypatch, count=1)
    assert pick_device("auto").type == "cuda"


@pytest.mark.parametrize("value", ["cpu", "CPU", " cpu "])
def test_cpu_is_always_available(value):
    assert pick_device(value) == torch.device("cpu")


@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_cuda_without_cuda_names_the_value_and_the_allowed_ones(monkeypatch, value):
    _without_cuda(monkeypatch)
    with pytest.raises(InvalidDeviceError, match=rf"{value!r}.*not available.*'auto', 'cpu'"):
        pick_device(value)


def test_cuda_index_beyond_the_devices_is_refused(monkeypatch):
    _with_cuda(monkeypatch, count=2)
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert pick_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(InvalidDeviceError, match=r"'cuda:2'.*2 CUDA device.*'cuda:0', 'cuda:1'"):
        pick_device("cuda:2")


@pytest.mark.parametrize("value", ["gpu", "tpu", "", "cuda:", "cuda:x", "cuda0", "mps", None, 0])
def test_unknown_device_names_the_value_and_the_allowed_ones(value):
    allowed = r"not allowed; allowed: \['auto', 'cpu', 'cuda', 'cuda:N'\]"
    with pytest.raises(InvalidDeviceError, match=allowed):
        pick_device(value)  # type: ignore[arg-type]


def test_invalid_device_error_is_a_value_error():
    with pytest.raises(ValueError):
        pick_device("gpu")


# --- model_version -------------------------------------------------------------------------


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

    monkeypatch.setattr(encoder_module, "hashlib", types.SimpleNamespace(sha256=counting_sha256))
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


# --- constructor checks (all fail before the model is loaded) ------------------------------


def _model_dir_with_pooling(
    tmp_path: Path, pooling: dict | None, modules: list | None = None
) -> Path:
    """A copy of the packaged model's layout (weights linked, not copied) with another pooling."""
    source = default_model_path()
    target = tmp_path / "model"
    target.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (target / name).symlink_to(source / name)
    if pooling is not None:
        (target / "1_Pooling").mkdir()
        (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if modules is not None:
        (target / "modules.json").write_text(json.dumps(modules))
    return target


@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode_mean_tokens": False, "pooling_mode_mean_sqrt_len_tokens": True},
        {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True},
        {"pooling_mode_mean_tokens": False},
        {"pooling_mode": "lasttoken"},
    ],
)
def test_pooling_the_encoder_does_not_implement_is_refused(tmp_path, pooling):
    model_dir = _model_dir_with_pooling(tmp_path, pooling)
    message = r"asks for pooling .*implements exactly one of \['mean', 'cls', 'max'\]"
    with pytest.raises(UnsupportedModelError, match=message):
        TransformerEncoder(model_dir, device="cpu")


def test_a_module_the_encoder_does_not_implement_is_refused(tmp_path):
    modules = [
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    model_dir = _model_dir_with_pooling(tmp_path, {"pooling_mode_mean_tokens": True}, modules)
    with pytest.raises(UnsupportedModelError, match="Dense"):
        TransformerEncoder(model_dir, device="cpu")


@pytest.mark.parametrize(
    ("pooling", "mode"),
    [
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
        ({"pooling_mode_max_tokens": True}, "max"),
        ({"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True}, "mean"),
        (None, "mean"),
    ],
)
def test_pooling_config_is_read(tmp_path, pooling, mode):
    model_dir = _model_dir_with_pooling(tmp_path, pooling)
    assert encoder_module._read_sentence_transformers_layout(model_dir)[0] == mode


def test_missing_model_directory_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        TransformerEncoder(tmp_path / "nowhere", device="cpu")


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("batch_size", 0), ("batch_size", -1), ("batch_size", 1.5),
        ("max_length", 0), ("max_length", True),
    ],
)
def test_bad_sizes_are_refused(argument, value):
    message = rf"{argument} must be an int >= 1, got {value!r}"
    with pytest.raises(InvalidEncoderArgumentError, match=message):
        TransformerEncoder(**{argument: value, "device": "cpu"})


def test_bad_device_is_refused_before_loading():
    with pytest.raises(InvalidDeviceError, match="'gpu'"):
        TransformerEncoder(device="gpu")


def test_bad_dtype_is_refused_before_loading():
    with pytest.raises(InvalidEncoderArgumentError, match=r"dtype 'float64' is not allowed"):
        TransformerEncoder(device="cpu", dtype="float64")


# --- encode_arrow --------------------------------------------------------------------------


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_encode_arrow_returns_list_of_float32_in_order(string_type):
    encoder = HashingEncoder(dim=16)
    texts = ["bread", "", "stock market", "bread"]
    result = encode_arrow(encoder, pa.array(texts, type=string_type))
    assert result.type == pa.list_(pa.float32())
    assert len(result) == len(texts)
    assert result.null_count == 0
    stacked = np.asarray(result.to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(stacked, encoder.encode(texts))


def test_encode_arrow_accepts_chunked_arrays():
    encoder = HashingEncoder(dim=8)
    chunked = pa.chunked_array([["a b"], ["c", "d e f"]])
    result = encode_arrow(encoder, chunked)
    expected = encoder.encode(["a b", "c", "d e f"])
    np.testing.assert_array_equal(np.asarray(result.to_pylist()), expected)


def test_encode_arrow_of_nothing_is_an_empty_list_array():
    result = encode_arrow(HashingEncoder(dim=8), pa.array([], type=pa.string()))
    assert result.type == pa.list_(pa.float32())
    assert len(result) == 0


def test_encode_arrow_refuses_nulls_naming_the_first():
    with pytest.raises(TypeError, match=r"texts\[1\] is null \(2 nulls\)"):
        encode_arrow(HashingEncoder(dim=8), pa.array(["a", None, "b", None]))


def test_encode_arrow_refuses_non_string_arrays():
    with pytest.raises(TypeError, match="int64"):
        encode_arrow(HashingEncoder(dim=8), pa.array([1, 2]))
    with pytest.raises(TypeError, match="list"):
        encode_arrow(HashingEncoder(dim=8), ["a", "b"])  # type: ignore[arg-type]


def test_model_identity_names_the_packaged_model_without_loading_it():
    identity = encoder_module.model_identity("", "all-MiniLM-L6-v2")
    assert identity.dim == 384
    assert identity.model_dir == encoder_module.default_model_path().resolve()
    assert identity.model_version == encoder_module.model_version_for(identity.model_dir, "all-MiniLM-L6-v2")
    assert identity.model_version.startswith("all-MiniLM-L6-v2@") and len(identity.model_version.split("@")[1]) == 12


def test_model_identity_of_a_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(encoder_module.ModelNotFoundError, match="config.json"):
        encoder_module.model_identity(tmp_path, "x")
