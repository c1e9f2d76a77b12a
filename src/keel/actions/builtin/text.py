"""Core actions that extract indicators from text: ``core.text.*``.

They mirror the ``FN.extract_*`` expression functions and reuse their extractors, so an action
and an expression always find the same indicators.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated

from keel.actions.registry import action
from keel.actions.schema import Doc

Texts = Annotated[str | list[str], Doc("A text, or a list of texts, to search.")]

# Imported on first use rather than at import time, so that the registry (and `keel validate`)
# loads even if the FN library cannot; switch to a plain import once that module is settled.
_INDICATORS = "keel.expressions.functions.indicators"


def _extract(name: str, texts: str | list[str]) -> list[str]:
    """Run extractor ``name`` on each text; return the matches deduplicated, in order."""
    extractor: Callable[[str], list[str]] = getattr(importlib.import_module(_INDICATORS), name)
    found: dict[str, None] = {}
    for text in [texts] if isinstance(texts, str) else texts:
        found.update(dict.fromkeys(extractor(text)))
    return list(found)


@action("core.text.extract_urls", pure=True)
def extract_urls(texts: Texts) -> list[str]:
    """Extract the URLs in the texts."""
    return _extract("extract_urls", texts)


@action("core.text.extract_domains", pure=True)
def extract_domains(texts: Texts) -> list[str]:
    """Extract the domain names in the texts."""
    return _extract("extract_domains", texts)


@action("core.text.extract_emails", pure=True)
def extract_emails(texts: Texts) -> list[str]:
    """Extract the email addresses in the texts."""
    return _extract("extract_emails", texts)


@action("core.text.extract_ipv4", pure=True)
def extract_ipv4(texts: Texts) -> list[str]:
    """Extract the IPv4 addresses in the texts."""
    return _extract("extract_ipv4", texts)


@action("core.text.extract_ipv6", pure=True)
def extract_ipv6(texts: Texts) -> list[str]:
    """Extract the IPv6 addresses in the texts."""
    return _extract("extract_ipv6", texts)


@action("core.text.extract_ip", pure=True)
def extract_ip(texts: Texts) -> list[str]:
    """Extract the IPv4 and IPv6 addresses in the texts."""
    return _extract("extract_ip", texts)


@action("core.text.extract_mac", pure=True)
def extract_mac(texts: Texts) -> list[str]:
    """Extract the MAC addresses in the texts."""
    return _extract("extract_mac", texts)


@action("core.text.extract_md5", pure=True)
def extract_md5(texts: Texts) -> list[str]:
    """Extract the MD5 hashes in the texts."""
    return _extract("extract_md5", texts)


@action("core.text.extract_sha1", pure=True)
def extract_sha1(texts: Texts) -> list[str]:
    """Extract the SHA-1 hashes in the texts."""
    return _extract("extract_sha1", texts)


@action("core.text.extract_sha256", pure=True)
def extract_sha256(texts: Texts) -> list[str]:
    """Extract the SHA-256 hashes in the texts."""
    return _extract("extract_sha256", texts)


@action("core.text.extract_sha512", pure=True)
def extract_sha512(texts: Texts) -> list[str]:
    """Extract the SHA-512 hashes in the texts."""
    return _extract("extract_sha512", texts)


@action("core.text.extract_cves", pure=True)
def extract_cves(texts: Texts) -> list[str]:
    """Extract the CVE identifiers (``CVE-2024-3094``) in the texts."""
    return _extract("extract_cves", texts)


@action("core.text.extract_asns", pure=True)
def extract_asns(texts: Texts) -> list[str]:
    """Extract the autonomous system numbers (``AS13335``) in the texts."""
    return _extract("extract_asns", texts)
