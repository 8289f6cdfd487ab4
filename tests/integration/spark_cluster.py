"""A Spark standalone cluster on 127.0.0.1 for tests: one master and N workers, from PySpark's own jars.

The master and the workers are the distribution's launch classes (``spark-class
org.apache.spark.deploy.master.Master`` / ``...worker.Worker``), each in its own process group so
that stopping the cluster also stops the executors the workers started. ``standalone_cluster`` is
a context manager: the cluster is stopped when the block ends, also when it raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str
    """spark://127.0.0.1:PORT"""
    ui_url: str
    """The master's web UI; ``/json`` lists the workers and applications."""
    logs: Path

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.ui_url}/json", timeout=5) as answer:
            return json.load(answer)

    def alive_workers(self) -> int:
        return sum(worker.get("state") == "ALIVE" for worker in self.state().get("workers", []))

    def log_tail(self, characters: int = 4000) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"== {log.name}\n{log.read_text(errors='replace')[-characters:]}")
        return "\n".join(parts)


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def standalone_cluster(
    work_dir: Path, workers: int = 2, cores_per_worker: int = 1, memory_per_worker: str = "2g", timeout: float = 120
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers on 127.0.0.1; stop them all on exit."""
    work_dir.mkdir(parents=True, exist_ok=True)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    env = {
        **os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(work_dir), "SPARK_WORKER_DIR": str(work_dir / "work"),
    }
    port, ui_port = free_port(), free_port()
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}", work_dir)
    processes = [
        _start(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui_port)],
            work_dir / "master.log", env,
        )
    ]
    try:
        for n in range(workers):
            processes.append(
                _start(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                     "--cores", str(cores_per_worker), "--memory", memory_per_worker,
                     "--webui-port", str(free_port()), "--work-dir", str(work_dir / f"worker-{n}"),
                     cluster.master_url],
                    work_dir / f"worker-{n}.log", env,
                )
            )
        deadline = time.monotonic() + timeout
        while True:
            if any(process.poll() is not None for process in processes):
                raise RuntimeError(f"a cluster process exited while starting:\n{cluster.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                if cluster.alive_workers() == workers:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{workers} workers did not register within {timeout:.0f} s:\n{cluster.log_tail()}")
            time.sleep(1)
        yield cluster
    finally:
        for process in reversed(processes):
            _stop(process)
