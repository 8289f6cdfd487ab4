"""Where the encoder runs: the one utility that picks the device and dtype, and torch's CPU threads.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from interests.encoding.errors import InvalidDeviceError, InvalidEncoderArgumentError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(?::(\d+))?)$")


def pick_device(requested: str = "auto") -> torch.device:
    """Resolve a device string: "auto" (cuda if available, else cpu), "cpu", "cuda" or "cuda:N"."""
    import torch

    value = requested.strip().lower() if isinstance(requested, str) else None
    match = _DEVICE_PATTERN.match(value) if value is not None else None
    if match is None:
        raise InvalidDeviceError(
            f"device {requested!r} is not allowed; allowed: {list(DEVICE_CHOICES)}"
        )
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InvalidDeviceError(
            f"device {requested!r} requested but CUDA is not available on this machine; "
            "allowed here: ['auto', 'cpu']"
        )
    count = torch.cuda.device_count()
    index = int(match.group(2)) if match.group(2) is not None else torch.cuda.current_device()
    if index >= count:
        raise InvalidDeviceError(
            f"device {requested!r} requested but this machine has {count} CUDA device(s); "
            f"allowed: {['auto', 'cpu', 'cuda'] + [f'cuda:{i}' for i in range(count)]}"
        )
    return torch.device("cuda", index)


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """Resolve a dtype: "auto" is float16 on CUDA (within 1e-3 cosine of float32), else float32."""
    import torch

    if requested not in DTYPE_CHOICES:
        raise InvalidEncoderArgumentError(
            f"dtype {requested!r} is not allowed; allowed: {list(DTYPE_CHOICES)}"
        )
    if requested == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return getattr(torch, requested)


def available_cpus() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


_cpu_threads_checked = False


def limit_cpu_threads() -> None:
    """Lower torch's intra-op threads to the CPUs really available, once per process.

    torch sizes its pool from the host's cores, which oversubscribes a container that was given
    fewer. The thread count is process-wide, so this only ever lowers it, and leaves it alone when
    the caller chose one through OMP_NUM_THREADS or MKL_NUM_THREADS. Inside a Spark task,
    :func:`set_torch_threads` with the task's CPUs applies instead.
    """
    global _cpu_threads_checked
    if _cpu_threads_checked:
        return
    _cpu_threads_checked = True
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    import torch

    available = available_cpus()
    if torch.get_num_threads() > available:
        logger.info("lowering torch threads from %d to the %d available CPUs",
                    torch.get_num_threads(), available)
        torch.set_num_threads(available)


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads to exactly ``threads`` (a Spark task's spark.task.cpus).

    Several tasks share an executor's cores; each may use only the CPUs Spark gave it, whatever
    OMP_NUM_THREADS the worker inherited (Spark may derive it from the executor's cores).
    """
    import torch

    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        logger.info("torch threads %d -> %d (the task's CPUs)", torch.get_num_threads(), threads)
        torch.set_num_threads(threads)
