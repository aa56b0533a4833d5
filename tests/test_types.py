"""mypy with django-stubs over the project (lenient), strict on the modules
pyproject.toml lists: run here so that `make test` and CI check the types."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_passes():
    # The cache (var/mypy_cache, ignored by git) makes a run after a small change take seconds.
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
