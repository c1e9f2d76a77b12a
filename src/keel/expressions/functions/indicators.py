"""Indicator extractors: find URLs, domains, emails, IPs, MACs, hashes, CVEs and ASNs in text.

Each ``extract_*`` function takes a string (or a list of strings, searched as one text) and returns
the matches deduplicated, in order of first appearance. They are plain functions so that both the
``FN.extract_*`` expression functions and the ``core.text.extract_*`` actions use them.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable

from keel.expressions.functions.arguments import type_name

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}\.)+[a-z]{{2,63}}"
_URL = r"\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"'`|\\^]+"
_EMAIL = rf"(?<![\w.%+-])[a-z0-9][a-z0-9._%+-]*@{_DOMAIN}(?![\w-])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

URL_RE = re.compile(_URL, re.IGNORECASE)
EMAIL_RE = re.compile(_EMAIL, re.IGNORECASE)
DOMAIN_RE = re.compile(rf"(?<![\w.-]){_DOMAIN}(?![\w-])", re.IGNORECASE)
#: URLs, emails or bare domains, in one scan, so a domain is found once and in text order.
_HOST_RE = re.compile(rf"(?P<url>{_URL})|(?P<email>{_EMAIL})|(?P<domain>{DOMAIN_RE.pattern})", re.I)
IPV4_RE = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
#: Candidates only: anything hex-and-colons with two colons; validated by ``ipaddress``.
_IPV6_CANDIDATE_RE = re.compile(r"(?<![\w:.])[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*(?![\w:])", re.I)
MAC_RE = re.compile(r"(?<![\w:-])[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}(?![\w:-])", re.I)
MD5_RE = re.compile(r"\b[0-9a-f]{32}\b", re.IGNORECASE)
SHA1_RE = re.compile(r"\b[0-9a-f]{40}\b", re.IGNORECASE)
SHA256_RE = re.compile(r"\b[0-9a-f]{64}\b", re.IGNORECASE)
SHA512_RE = re.compile(r"\b[0-9a-f]{128}\b", re.IGNORECASE)
CVE_RE = re.compile(r"\bCVE-\d{4}-\d{4,7}\b", re.IGNORECASE)
ASN_RE = re.compile(r"\bASN?(?::\s?|\s)?(\d{1,10})\b")

#: Last labels that look like a TLD but are file extensions (``invoice.pdf`` is not a domain).
FILE_EXTENSIONS = frozenset(
    [
        "bat", "bin", "cfg", "csv", "dat", "dll", "doc", "docx", "exe", "gif", "htm", "html", "ini",
        "jpeg", "jpg", "js", "json", "log", "msi", "pdf", "php", "png", "ps1", "py", "rar", "sh",
        "svg", "tar", "tmp", "txt", "vbs", "xls", "xlsm", "xlsx", "xml", "yaml", "yml",
    ]
)  # fmt: skip
_TRAILING = ".,;:!?*'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}
MAX_ASN = 4_294_967_295


def _text(fname: str, text: str | list[str]) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, list | tuple) and all(isinstance(t, str) for t in text):
        return "\n".join(text)
    raise TypeError(f"{fname} expects a string or a list of strings, got {type_name(text)}")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _trim_url(url: str) -> str:
    """Drop trailing punctuation that ends a sentence rather than the URL (``x.com/a).``)."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])
        if last in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def _url(candidate: str) -> str | None:
    url = _trim_url(candidate)
    return url if not url.endswith("://") else None


def _domain(candidate: str) -> str | None:
    domain = candidate.lower().rstrip(".")
    if domain.rsplit(".", 1)[-1] in FILE_EXTENSIONS:
        return None
    return domain


def extract_urls(text: str | list[str]) -> list[str]:
    """Extract URLs (any ``scheme://``), stopping at whitespace, quotes and ``<>``."""
    found = (_url(m.group(0)) for m in URL_RE.finditer(_text("extract_urls", text)))
    return _unique(url for url in found if url)


def extract_domains(text: str | list[str]) -> list[str]:
    """Extract domain names (lower-cased): bare ones and those of URLs and email addresses."""
    found: list[str] = []
    for match in _HOST_RE.finditer(_text("extract_domains", text)):
        if match.group("url"):
            try:
                host = urllib.parse.urlsplit(_url(match.group("url")) or "").hostname
            except ValueError:
                continue
            if host and DOMAIN_RE.fullmatch(host):
                found.append(host.lower())
        else:
            candidate = match.group("domain") or match.group("email").rsplit("@", 1)[1]
            domain = _domain(candidate)
            if domain:
                found.append(domain)
    return _unique(found)


def extract_emails(text: str | list[str]) -> list[str]:
    """Extract email addresses."""
    return _unique(m.group(0) for m in EMAIL_RE.finditer(_text("extract_emails", text)))


def normalize_email(email: str) -> str:
    """Normalize an email address: lower-case it and drop ``+tag`` sub-addressing."""
    if not isinstance(email, str):
        raise TypeError(f"normalize_email expects a string, got {type_name(email)}")
    address = email.strip()
    if not EMAIL_RE.fullmatch(address):
        raise ValueError(f"normalize_email expects an email address, got '{email}'")
    local, domain = address.lower().rsplit("@", 1)
    return f"{local.split('+', 1)[0] or local}@{domain}"


def _ipv4_matches(text: str) -> list[re.Match[str]]:
    return list(IPV4_RE.finditer(text))


def _ipv6_matches(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _IPV6_CANDIDATE_RE.finditer(text):
        candidate = match.group(0).rstrip(".")
        if candidate.endswith(":") and not candidate.endswith("::"):
            candidate = candidate[:-1]
        if not re.search(r"[0-9a-f]", candidate, re.I):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        found.append((match.start(), match.start() + len(candidate), candidate))
    return found


def extract_ipv4(text: str | list[str]) -> list[str]:
    """Extract IPv4 addresses (dotted quads without leading zeros)."""
    return _unique(m.group(0) for m in _ipv4_matches(_text("extract_ipv4", text)))


def extract_ipv6(text: str | list[str]) -> list[str]:
    """Extract IPv6 addresses, as written."""
    return _unique(found for _, _, found in _ipv6_matches(_text("extract_ipv6", text)))


def extract_ip(text: str | list[str]) -> list[str]:
    """Extract IPv4 and IPv6 addresses in text order (an IPv4 inside an IPv6 counts once)."""
    body = _text("extract_ip", text)
    v6 = _ipv6_matches(body)
    hits = [(start, found) for start, _, found in v6]
    for m in _ipv4_matches(body):
        if not any(start <= m.start() < end for start, end, _ in v6):
            hits.append((m.start(), m.group(0)))
    return _unique(found for _, found in sorted(hits, key=lambda hit: hit[0]))


def extract_mac(text: str | list[str]) -> list[str]:
    """Extract MAC addresses written with ``:`` or ``-`` (``00:1a:2b:3c:4d:5e``)."""
    return _unique(m.group(0) for m in MAC_RE.finditer(_text("extract_mac", text)))


def extract_md5(text: str | list[str]) -> list[str]:
    """Extract MD5 hashes (32 hex digits)."""
    return _unique(MD5_RE.findall(_text("extract_md5", text)))


def extract_sha1(text: str | list[str]) -> list[str]:
    """Extract SHA-1 hashes (40 hex digits)."""
    return _unique(SHA1_RE.findall(_text("extract_sha1", text)))


def extract_sha256(text: str | list[str]) -> list[str]:
    """Extract SHA-256 hashes (64 hex digits)."""
    return _unique(SHA256_RE.findall(_text("extract_sha256", text)))


def extract_sha512(text: str | list[str]) -> list[str]:
    """Extract SHA-512 hashes (128 hex digits)."""
    return _unique(SHA512_RE.findall(_text("extract_sha512", text)))


def extract_cves(text: str | list[str]) -> list[str]:
    """Extract CVE identifiers, upper-cased (``CVE-2024-3094``)."""
    return _unique(m.upper() for m in CVE_RE.findall(_text("extract_cves", text)))


def extract_asns(text: str | list[str]) -> list[str]:
    """Extract autonomous system numbers as ``AS<number>`` (``AS13335``, from ``ASN 13335`` too)."""
    numbers = (int(n) for n in ASN_RE.findall(_text("extract_asns", text)))
    return _unique(f"AS{n}" for n in numbers if n <= MAX_ASN)
