"""The report opens in a real browser (headless Chromium) without a script error, and draws its figures.

``make test`` installs Chromium first (``make browser``); without it these tests fail and say how to get it.
The screenshot stays in tests/artifacts/report.png (ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from interests.report import write_report

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is needed for the report's browser test and is not installed: "
                    "run `make browser` (apt-get install chromium), or set CHROMIUM=/path/to/chromium")
    return found


def _open(page: Path, profile: Path, *flags: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local page; console output (and script errors) go to stderr."""
    command = [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *flags, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _console(stderr: str) -> list[str]:
    """The page's console messages: the report writes none, so any one (an uncaught error above all) is a fault."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_the_console_check_catches_a_script_error(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")

    result = _open(broken, tmp_path / "profile", "--dump-dom")

    assert result.returncode == 0, result.stderr[-2000:]
    assert any("Uncaught ReferenceError" in line for line in _console(result.stderr))


def test_the_report_renders_in_chromium_without_errors(report_lake, changes, tmp_path):
    page = write_report(report_lake, tmp_path / "report.html", ds=changes.ds)

    dom = _open(page, tmp_path / "profile", "--dump-dom")

    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console(dom.stderr) == []
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its last line
    assert len(re.findall(r"<svg\b", dom.stdout)) == 2  # the item map and the trend chart
    assert len(re.findall(r"<circle\b", dom.stdout)) >= 62 + 3
    assert "cooking / recipes" in dom.stdout

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = _open(page, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2000",
                 "--hide-scrollbars")
    print(f"report screenshot: {screenshot}")

    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    assert _console(shot.stderr) == []
    assert screenshot.stat().st_size > 20_000
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        rgb = image.convert("RGB")
        assert len(rgb.getcolors(maxcolors=1 << 20) or range(1 << 20)) > 50  # text, bars and badges, not a blank
        assert max(ImageStat.Stat(rgb).stddev) > 20
