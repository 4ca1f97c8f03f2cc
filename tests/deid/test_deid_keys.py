"""Site secret, pseudonyms, UIDs and date shifts: keyed, deterministic, secret-dependent."""

from __future__ import annotations

import hmac
import re
from pathlib import Path

import pytest

from sarcoma_xnat.deid.keys import SECRET_ENV, SiteKey, load_secret
from sarcoma_xnat.errors import ConfigurationError


def test_secret_from_file_then_env(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("a-long-enough-site-secret\n")
    assert load_secret(path, env={}) == b"a-long-enough-site-secret"
    assert load_secret(None, env={SECRET_ENV: "another-long-site-secret"}) == \
        b"another-long-site-secret"


def test_missing_or_short_secret_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no site secret"):
        load_secret(None, env={})
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_secret(tmp_path / "absent", env={})
    with pytest.raises(ConfigurationError, match="too short") as info:
        load_secret(None, env={SECRET_ENV: "shortsecret"})
    assert "shortsecret" not in str(info.value)


def test_uid_is_hmac_sha512_256_under_the_secret() -> None:
    secret = b"0123456789abcdef0123456789abcdef"
    original = "1.2.840.113619.2.55.3.1234"
    digest = hmac.new(secret, b"uid|" + original.encode(), "sha512_256").digest()
    assert SiteKey(secret).uid(original) == "2.25." + str(int.from_bytes(digest[:16], "big"))
    assert len(SiteKey(secret).uid(original)) <= 64


def test_pseudonyms_are_readable_stable_and_secret_dependent() -> None:
    a, b = SiteKey(b"x" * 32), SiteKey(b"y" * 32)
    code = a.pseudonym("MRN12345678")
    assert re.fullmatch(r"SXN[0-9A-HJKMNP-TV-Z]{10}", code)
    assert a.pseudonym(" MRN12345678 ") == code
    assert SiteKey(b"x" * 32).pseudonym("MRN12345678") == code
    assert b.pseudonym("MRN12345678") != code
    assert a.pseudonym("MRN12345679") != code
    assert SiteKey(b"x" * 32, prefix="S01").pseudonym("MRN12345678").startswith("S01")
    assert "x" * 32 not in repr(a)


def test_date_shift_is_per_patient_and_bounded() -> None:
    key = SiteKey(b"x" * 32)
    shifts = {key.date_shift_days(key.pseudonym(f"MRN{i}")) for i in range(50)}
    assert all(-3650 <= s <= -1 for s in shifts)
    assert len(shifts) > 40
