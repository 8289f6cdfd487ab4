"""The library zip spark-submit ships with --py-files: what goes in, and when it is stale."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def library(dagbag: Any) -> Any:
    """interests_airflow.library (importable once the DAGs folder is on sys.path)."""
    from interests_airflow import library

    return library


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "lib_under_test"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "core.py").write_text("ANSWER = 42\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "deep.py").write_text("from lib_under_test.core import ANSWER\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"stale bytecode")
    (root / "notes.txt").write_text("not a module")
    return root


def _age(path: Path, seconds: float) -> None:
    """Move a file's mtime into the past, so a later write is newer whatever the clock's grain."""
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def test_the_zip_holds_the_modules_under_the_package_name(library: Any, package: Path, tmp_path: Path) -> None:
    target = library.build_library_zip(package, tmp_path / ".dist" / "lib.zip")
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == [
            "lib_under_test/__init__.py",
            "lib_under_test/core.py",
            "lib_under_test/sub/__init__.py",
            "lib_under_test/sub/deep.py",
        ]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert list(target.parent.iterdir()) == [target]  # no staging file left behind


def test_the_same_sources_make_the_same_bytes(library: Any, package: Path, tmp_path: Path) -> None:
    first = library.build_library_zip(package, tmp_path / "a.zip").read_bytes()
    (package / "core.py").touch()
    assert library.build_library_zip(package, tmp_path / "b.zip").read_bytes() == first


def test_python_imports_the_package_from_the_zip(library: Any, package: Path, tmp_path: Path) -> None:
    """As a driver or an executor does with a --py-files zip first on its path."""
    target = library.build_library_zip(package, tmp_path / "lib.zip")
    result = subprocess.run(
        [sys.executable, "-c", "import lib_under_test.sub.deep as m; print(m.ANSWER, m.__file__)"],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["42", str(target / "lib_under_test" / "sub" / "deep.py")]


def test_a_folder_without_init_is_refused(library: Any, tmp_path: Path) -> None:
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "module.py").write_text("")
    with pytest.raises(ValueError, match="not a Python package"):
        library.build_library_zip(tmp_path / "loose", tmp_path / "loose.zip")


def test_a_fresh_zip_is_current(library: Any, package: Path, tmp_path: Path) -> None:
    for path in package.rglob("*.py"):
        _age(path, 60)
    target = library.build_library_zip(package, tmp_path / "lib.zip")
    assert library.stale_reason(package, target) is None


def test_an_edited_module_makes_it_stale(library: Any, package: Path, tmp_path: Path) -> None:
    for path in package.rglob("*.py"):
        _age(path, 120)
    target = library.build_library_zip(package, tmp_path / "lib.zip")
    _age(target, 60)
    (package / "core.py").write_text("ANSWER = 43\n")
    assert library.stale_reason(package, target) == f"{target} is older than lib_under_test/core.py"


@pytest.mark.parametrize("change", ["added", "removed"])
def test_an_added_or_removed_module_makes_it_stale(
    library: Any, package: Path, tmp_path: Path, change: str
) -> None:
    """A removed module leaves no newer file behind; the zip's list of modules tells."""
    target = library.build_library_zip(package, tmp_path / "lib.zip")
    if change == "added":
        (package / "extra.py").write_text("")
        _age(package / "extra.py", 120)  # an old file moved in: only the module list tells
    else:
        (package / "sub" / "deep.py").unlink()
    reason = library.stale_reason(package, target)
    assert reason is not None and "differ in their modules" in reason


def test_a_missing_or_broken_zip_is_stale(library: Any, package: Path, tmp_path: Path) -> None:
    assert "does not exist" in library.stale_reason(package, tmp_path / "missing.zip")
    broken = tmp_path / "broken.zip"
    broken.write_text("not a zip")
    for path in package.rglob("*.py"):
        _age(path, 60)
    assert "not a zip file" in library.stale_reason(package, broken)
