"""The sample action package of the tests: installed into the running interpreter when missing.

``make install`` installs it (``pip install -e tests/fixtures/keel_sample_actions``); a session
started some other way installs it before any test runs, so a clean clone needs no extra step.
An install that points at another checkout (a moved or deleted folder) is replaced by this one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keel_sample_actions"
DISTRIBUTION = "keel-sample-actions"
MODULE = "keel_sample_actions"


def _installed_here() -> bool:
    try:
        importlib.metadata.distribution(DISTRIBUTION)
        spec = importlib.util.find_spec(MODULE)
    except (importlib.metadata.PackageNotFoundError, ImportError):
        return False
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    return origin is not None and origin.is_relative_to(PACKAGE_DIR)


def ensure_installed() -> None:
    """Install the sample package (editable) unless this interpreter has it from this checkout."""
    if _installed_here():
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(PACKAGE_DIR)],
        check=True,
    )
    # The editable install is a .pth file, read at interpreter start; this interpreter gets the
    # folder now (processes started later, such as Ray workers, read the .pth themselves).
    sys.path.insert(0, str(PACKAGE_DIR))
    importlib.invalidate_caches()
