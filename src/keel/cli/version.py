"""Keel's version, as installed (``keel --version``)."""

from __future__ import annotations

from importlib import metadata


def keel_version() -> str:
    """Return the installed version of the ``keel`` distribution.

    A source checkout that is only on ``PYTHONPATH`` (not installed) has no distribution
    metadata; it says so rather than inventing a number.
    """
    try:
        return metadata.version("keel")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: run from a source folder)"
