"""The encoding package's import cost."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_encoding_package_does_not_import_torch_transformers_pyarrow_or_pyspark():
    code = (
        "import sys, interests.encoding;"
        "from interests.encoding import HashingEncoder; HashingEncoder().encode(['x']);"
        "print(sorted(m for m in ('torch', 'transformers', 'pyarrow', 'pyspark') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
