"""The ``core.text.extract_*`` actions: the FN extractors over one text or many."""

from __future__ import annotations

import re
import sys
import types
from typing import Any

import pytest

from keel.actions.registry import default_registry
from keel.errors import ActionArgumentError

KINDS = (
    "urls", "domains", "emails", "ipv4", "ipv6", "ip", "mac", "md5", "sha1", "sha256", "sha512",
    "cves", "asns",
)  # fmt: skip

MD5 = "9e107d9d372bb6826bd81d3542a419d6"
TEXTS = [
    f"Visit https://evil.example/login from 10.0.0.1, mail bob@corp.example; md5 {MD5}",
    "Also CVE-2024-3094 via AS13335 and fe80::1 at 00:1a:2b:3c:4d:5e; again 10.0.0.1",
    f"https://evil.example/login again, and {MD5}",
]


def call(name: str, **args: Any) -> Any:
    spec = default_registry().get(name)
    return spec.fn(**spec.validate_args(args))


@pytest.fixture
def indicators() -> types.ModuleType:
    return pytest.importorskip("keel.expressions.functions.indicators")


def test_actions_run_the_fn_extractor_of_their_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in FN module: checks the wiring, whatever the real extractors match.
    fake = types.ModuleType("indicators")
    for kind in KINDS:
        setattr(fake, f"extract_{kind}", lambda text, k=kind: [f"{k}:{w}" for w in text.split()])
    monkeypatch.setitem(sys.modules, "keel.expressions.functions.indicators", fake)
    for kind in KINDS:
        found = call(f"core.text.extract_{kind}", texts=["a b", "b c"])
        assert found == [f"{kind}:a", f"{kind}:b", f"{kind}:c"]
    assert call("core.text.extract_ip", texts="x x") == ["ip:x"]


def test_texts_must_be_strings() -> None:
    with pytest.raises(
        ActionArgumentError, match=re.escape("argument 'texts' must be str | list[str]")
    ):
        call("core.text.extract_urls", texts=5)


@pytest.mark.parametrize("kind", KINDS)
def test_action_matches_the_fn_extractor(kind: str, indicators: types.ModuleType) -> None:
    extractor = getattr(indicators, f"extract_{kind}")
    expected: list[str] = []
    for text in TEXTS:
        expected += [found for found in extractor(text) if found not in expected]
    assert call(f"core.text.extract_{kind}", texts=TEXTS) == expected
    assert call(f"core.text.extract_{kind}", texts=TEXTS[0]) == extractor(TEXTS[0])


@pytest.mark.usefixtures("indicators")
def test_matches_are_deduplicated_across_texts_in_order() -> None:
    assert call("core.text.extract_ipv4", texts=TEXTS) == ["10.0.0.1"]
    assert call("core.text.extract_md5", texts=TEXTS) == [MD5]
    assert call("core.text.extract_cves", texts=TEXTS) == ["CVE-2024-3094"]
    assert call("core.text.extract_urls", texts=TEXTS) == ["https://evil.example/login"]
    assert call("core.text.extract_emails", texts=TEXTS) == ["bob@corp.example"]


@pytest.mark.usefixtures("indicators")
def test_no_text_no_matches() -> None:
    assert call("core.text.extract_urls", texts=[]) == []
    assert call("core.text.extract_urls", texts="nothing here") == []
