"""Indicator extraction on realistic text: a phishing email, logs, tricky punctuation."""

from __future__ import annotations

import pytest

from keel.expressions.functions import FUNCTIONS, indicators

PHISHING = """\
From: "PayPal Security" <security@paypa1-verify.com>
Reply-To: billing+urgent@Secure-Login.example.net
Subject: Your account is locked!

Dear customer, verify at https://paypa1-verify.com/login?session=abc123&next=%2Fhome. Or use
(http://bit.ly/3xYz), see [docs](https://en.wikipedia.org/wiki/Phishing_(disambiguation)) and
<https://evil.example/path>, or "https://quoted.example/q".
The attachment invoice.pdf (md5 44d88612fea8a8f36de82e1278abb02f) was sent from 185.220.101.45:443
via 2001:db8::dead:beef and [fe80::1%eth0]; mapped ::ffff:192.168.1.1.
Version 1.2.3.4.5 and 999.1.1.1 are not addresses; 12:30:45 and std::vector are not IPv6.
Device 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5f. Exploits CVE-2024-3094 and cve-2021-44228 from AS13335.
Contact: first.last@corp.example.
"""


def test_urls_stop_at_punctuation_quotes_and_brackets() -> None:
    assert indicators.extract_urls(PHISHING) == [
        "https://paypa1-verify.com/login?session=abc123&next=%2Fhome",
        "http://bit.ly/3xYz",
        "https://en.wikipedia.org/wiki/Phishing_(disambiguation)",
        "https://evil.example/path",
        "https://quoted.example/q",
    ]


def test_domains_come_from_urls_emails_and_bare_names() -> None:
    assert indicators.extract_domains(PHISHING) == [
        "paypa1-verify.com",
        "secure-login.example.net",
        "bit.ly",
        "en.wikipedia.org",
        "evil.example",
        "quoted.example",
        "corp.example",
    ]


def test_file_names_are_not_domains() -> None:
    assert indicators.extract_domains("open invoice.pdf or setup.exe at evil.example") == [
        "evil.example"
    ]


def test_emails() -> None:
    assert indicators.extract_emails(PHISHING) == [
        "security@paypa1-verify.com",
        "billing+urgent@Secure-Login.example.net",
        "first.last@corp.example",
    ]


def test_ips() -> None:
    assert indicators.extract_ipv4(PHISHING) == ["185.220.101.45", "192.168.1.1"]
    assert indicators.extract_ipv6(PHISHING) == [
        "2001:db8::dead:beef",
        "fe80::1",
        "::ffff:192.168.1.1",
    ]
    # The IPv4 inside the mapped IPv6 address is not listed twice.
    assert indicators.extract_ip(PHISHING) == [
        "185.220.101.45",
        "2001:db8::dead:beef",
        "fe80::1",
        "::ffff:192.168.1.1",
    ]


def test_macs_hashes_cves_asns() -> None:
    assert indicators.extract_mac(PHISHING) == ["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5f"]
    assert indicators.extract_md5(PHISHING) == ["44d88612fea8a8f36de82e1278abb02f"]
    assert indicators.extract_sha1(PHISHING) == []
    assert indicators.extract_cves(PHISHING) == ["CVE-2024-3094", "CVE-2021-44228"]
    assert indicators.extract_asns(PHISHING) == ["AS13335"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://x.example/a.", ["https://x.example/a"]),
        ("https://x.example/a,b, next", ["https://x.example/a,b"]),
        ("(see https://x.example/a)", ["https://x.example/a"]),
        ("https://x.example/a_(b)", ["https://x.example/a_(b)"]),
        ("'https://x.example/q?a=1'", ["https://x.example/q?a=1"]),
        ('<a href="https://x.example/">', ["https://x.example/"]),
        ("https://x.example/a!?", ["https://x.example/a"]),
        ("ftp://files.example/pub", ["ftp://files.example/pub"]),
        ("hxxps://defanged.example/x", ["hxxps://defanged.example/x"]),
        ("http://[2001:db8::1]:8080/p", ["http://[2001:db8::1]:8080/p"]),
        ("https://.", []),
        ("no urls here", []),
    ],
)
def test_url_edges(text: str, expected: list[str]) -> None:
    assert indicators.extract_urls(text) == expected


def test_lists_of_texts_are_searched_together_and_deduplicated() -> None:
    texts = ["a 10.0.0.1 b", "c 10.0.0.2", "10.0.0.1 again"]
    assert indicators.extract_ipv4(texts) == ["10.0.0.1", "10.0.0.2"]
    assert indicators.extract_ipv4([]) == []


def test_hashes_of_one_length_are_not_found_inside_longer_ones() -> None:
    sha256 = "a" * 64
    assert indicators.extract_md5(sha256) == []
    assert indicators.extract_sha1(sha256) == []
    assert indicators.extract_sha256(sha256) == [sha256]


def test_asn_range_and_spellings() -> None:
    assert indicators.extract_asns("ASN:8075, AS 15169, AS99999999999, ASX1") == [
        "AS8075",
        "AS15169",
    ]


def test_fn_extractors_are_the_indicator_functions() -> None:
    assert FUNCTIONS["extract_urls"].impl is indicators.extract_urls
    assert FUNCTIONS["normalize_email"].impl is indicators.normalize_email
