"""pick_device and torch's CPU threads: the one place the encoder's device is chosen."""

from __future__ import annotations

import pytest

from interests.encoding.devices import pick_device, pick_dtype, set_torch_threads
from interests.encoding.errors import InvalidDeviceError, InvalidEncoderArgumentError

torch = pytest.importorskip("torch")


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



@pytest.mark.parametrize(("device", "expected"), [("cpu", "float32"), ("cuda", "float16")])
def test_auto_dtype_is_half_precision_on_cuda_only(device, expected):
    assert pick_dtype("auto", torch.device(device)) == getattr(torch, expected)


def test_unknown_dtype_names_the_allowed_ones():
    with pytest.raises(InvalidEncoderArgumentError, match=r"'int8' is not allowed; allowed: \['auto', 'float32'"):
        pick_dtype("int8", torch.device("cpu"))


@pytest.mark.parametrize("threads", [1, 2])
def test_set_torch_threads_sets_exactly_the_task_cores(threads):
    before = torch.get_num_threads()
    try:
        set_torch_threads(threads)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
