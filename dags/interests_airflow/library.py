"""The ``interests`` library as Spark ships it to executors: one zip of ``src/interests``, for ``--py-files``.

Spark puts a ``--py-files`` zip first on the Python path of the driver and of every executor's Python
workers, so the whole application runs the same copy of the library, wherever it runs. The library
is pure Python, so a zip of its ``.py`` files is the whole artifact (Spark adds ``.zip``, ``.egg``
and ``.jar`` files to executors' paths, not ``.whl``).

``make install`` builds it (``python dags/interests_airflow/library.py src/interests .dist/interests.zip``);
the DAG's tasks check before submitting that it holds the checkout's current sources, since a stale
zip would run yesterday's code on the driver and the executors alike. Standard library only: the DAG
helper package imports this module when a DAG file is parsed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
"""Every entry gets this time, so the same sources always make the same bytes."""


def library_sources(package_dir: Path) -> dict[str, Path]:
    """The files that go into the zip: every ``.py`` under ``package_dir``, by their name in the zip."""
    package_dir = Path(package_dir)
    return {
        path.relative_to(package_dir.parent).as_posix(): path
        for path in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def build_library_zip(package_dir: Path, target: Path) -> Path:
    """Write ``target``: the package's ``.py`` files under the package's own name, atomically."""
    package_dir, target = Path(package_dir), Path(target)
    sources = library_sources(package_dir)
    if f"{package_dir.name}/__init__.py" not in sources:
        raise ValueError(f"{package_dir} is not a Python package (no __init__.py)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A task may be reading the old zip: write beside it, then replace it in one rename.
    handle, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in sources.items():
                entry = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, path.read_bytes())
        os.chmod(staging, 0o644)  # mkstemp makes it private; a worker may run as another user
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return target


def stale_reason(package_dir: Path, target: Path) -> str | None:
    """Why ``target`` does not hold the current sources of ``package_dir`` (``None``: it does).

    A source newer than the zip, or a module added or removed since it was built, makes it stale.
    """
    package_dir, target = Path(package_dir), Path(target)
    if not target.is_file():
        return f"{target} does not exist"
    sources = library_sources(package_dir)
    built_at = target.stat().st_mtime
    newer = [name for name, path in sources.items() if path.stat().st_mtime > built_at]
    if newer:
        return f"{target} is older than {newer[0]}" + (f" and {len(newer) - 1} more" if len(newer) > 1 else "")
    try:
        with zipfile.ZipFile(target) as archive:
            zipped = set(archive.namelist())
    except zipfile.BadZipFile:
        return f"{target} is not a zip file"
    if zipped != set(sources):
        changed = sorted(zipped.symmetric_difference(sources))
        return f"{target} and {package_dir} differ in their modules ({', '.join(changed[:3])})"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit("usage: library.py PACKAGE_DIR TARGET_ZIP")  # exit 1: a build step, not the jobs' contract
    target = build_library_zip(Path(argv[0]), Path(argv[1]))
    print(f"library: {len(library_sources(Path(argv[0])))} modules in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
