"""Pooling as the model's sentence-transformers files ask, and refusal of what is not implemented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interests.encoding.errors import UnsupportedModelError
from interests.encoding.model_files import default_model_path
from interests.encoding.pooling import pool, read_pooling_config
from interests.encoding.transformer import TransformerEncoder

torch = pytest.importorskip("torch")


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
    assert read_pooling_config(model_dir)[0] == mode



def test_pooling_ignores_padding_tokens():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(pool(hidden, mask, "mean"), torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(pool(hidden, mask, "max"), torch.tensor([[3.0, 4.0]]))
    torch.testing.assert_close(pool(hidden, mask, "cls"), torch.tensor([[1.0, 2.0]]))
