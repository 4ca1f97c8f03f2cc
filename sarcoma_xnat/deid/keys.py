"""The site secret and what is derived from it: pseudonyms, UIDs, date shifts.

Everything is a keyed hash, HMAC with SHA-512/256, under the site's secret. Without
the secret nobody can go from a PatientID to its pseudonym (no dictionary attack on
MRNs), and with it the mapping is the same on every run and every machine.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError

__all__ = [
    "DEFAULT_PREFIX",
    "SECRET_ENV",
    "SiteKey",
    "load_secret",
]

#: environment variable holding the site secret (or read from ``--secret-file``)
SECRET_ENV = "SARCOMA_XNAT_SITE_SECRET"
#: prefix of subject pseudonyms unless the site sets its own
DEFAULT_PREFIX = "SXN"
_MIN_SECRET_BYTES = 16
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # base32 without I, L, O, U


def load_secret(secret_file: str | os.PathLike[str] | None = None,
                env: dict[str, str] | None = None) -> bytes:
    """Return the site secret from ``secret_file`` or, failing that, ``$SARCOMA_XNAT_SITE_SECRET``.

    Raises
    ------
    ConfigurationError
        When neither is given, the file is unreadable, or the secret is shorter than
        16 bytes. The message never contains the secret.
    """
    environ = os.environ if env is None else env
    if secret_file is not None:
        path = Path(secret_file)
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the site secret file {path}: "
                                     f"{exc.strerror or exc}") from None
        source = f"secret file {path}"
    elif environ.get(SECRET_ENV):
        secret = environ[SECRET_ENV].strip().encode()
        source = f"${SECRET_ENV}"
    else:
        raise ConfigurationError(f"no site secret: pass --secret-file FILE or set ${SECRET_ENV}")
    if len(secret) < _MIN_SECRET_BYTES:
        raise ConfigurationError(f"the site secret from {source} is too short: expected at least "
                                 f"{_MIN_SECRET_BYTES} bytes, found {len(secret)}")
    return secret


def _code(digest: bytes, length: int) -> str:
    """Render the first bits of ``digest`` as ``length`` Crockford base32 characters."""
    value = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(chars)


class SiteKey:
    """Keyed derivations under one site secret.

    Parameters
    ----------
    secret : bytes
        The site secret (see :func:`load_secret`).
    prefix : str
        Prefix of subject codes, e.g. a site code; letters and digits.
    """

    def __init__(self, secret: bytes, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix.isalnum():
            raise ConfigurationError(f"pseudonym prefix must be letters and digits, got {prefix!r}")
        self._secret = bytes(secret)
        self.prefix = prefix
        self._uids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SiteKey(prefix={self.prefix!r}, secret=<hidden>)"

    def digest(self, purpose: str, value: str) -> bytes:
        """Return HMAC-SHA512/256 of ``purpose|value`` under the site secret."""
        msg = f"{purpose}|{value}".encode("utf-8", "surrogateescape")
        return hmac.new(self._secret, msg, "sha512_256").digest()

    def pseudonym(self, patient_id: str) -> str:
        """Return the subject code of a PatientID, e.g. ``SXN4K7Q2M9TZB``."""
        key = patient_id.strip()
        if not key:
            raise ConfigurationError("an empty PatientID has no pseudonym")
        return self.prefix + _code(self.digest("patient", key), 10)

    def code(self, purpose: str, value: str, length: int = 8) -> str:
        """Return a short keyed code (Crockford base32) of ``value`` for ``purpose``."""
        return _code(self.digest(purpose, value), length)

    def session_label(self, subject: str, study_uid: str, modality: str = "MR") -> str:
        """Return the session label of a study: subject code, modality and a study code."""
        mod = "".join(c for c in modality.upper() if c.isalnum()) or "OT"
        return f"{subject}_{mod}_{_code(self.digest('study', study_uid.strip()), 6)}"

    def uid(self, original: str) -> str:
        """Return the ``2.25.`` UID that replaces ``original`` (same input, same UID)."""
        cached = self._uids.get(original)
        if cached is None:
            value = int.from_bytes(self.digest("uid", original.strip())[:16], "big")
            cached = self._uids[original] = f"2.25.{value}"
        return cached

    def date_shift_days(self, pseudonym: str) -> int:
        """Return the per-patient date shift: between 1 and 3650 days into the past."""
        value = int.from_bytes(self.digest("date-shift", pseudonym)[:4], "big")
        return -(1 + value % 3650)

    def fingerprint(self) -> str:
        """Return a short public fingerprint of the secret (to tell secrets apart in audits)."""
        return hashlib.sha256(b"sarcoma-xnat-fingerprint|" + self._secret).hexdigest()[:12]
