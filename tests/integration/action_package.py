"""The sample action package of the tests: installed into the running interpreter when missing.

``make install`` installs it (``pip install -e tests/fixtures/keel_sample_actions``); a session
started some other way installs it before any test runs, so a clean clone needs no extra step.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keel_sample_actions"
DISTRIBUTION = "keel-sample-actions"


def ensure_installed() -> None:
    """Install the sample package (editable) if this interpreter does not have it yet."""
    try:
        importlib.metadata.distribution(DISTRIBUTION)
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(PACKAGE_DIR)],
        check=True,
    )
    # The editable install is a .pth file, read at interpreter start: read it now for this one
    # (processes started later, such as Ray workers, read it themselves).
    site.addsitedir(sysconfig.get_paths()["purelib"])
    importlib.invalidate_caches()
