"""Read the clinical table from a REDCap project's API with PyCap (extra ``[redcap]``).

The REDCap project is set up from the shipped data dictionary
(``sarcoma_xnat/clinical/data/redcap_data_dictionary.csv``), so a raw records export
(``content=record``, ``rawOrLabel=raw``) is the clinical table: the record ID field
``patient_id`` and one field per variable, choices as their codes. The API token
comes from a file or ``$REDCAP_API_TOKEN``, never from the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError, InputDataError

__all__ = ["TOKEN_ENV", "fetch_records", "load_token"]

#: environment variable holding the REDCap API token (or read from ``--redcap-token-file``)
TOKEN_ENV = "REDCAP_API_TOKEN"


def load_token(token_file: str | os.PathLike[str] | None = None,
               env: dict[str, str] | None = None) -> str:
    """Return the REDCap API token from ``token_file`` or ``$REDCAP_API_TOKEN``.

    The message of an error never contains the token.
    """
    environ = os.environ if env is None else env
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the REDCap token file {token_file}: "
                                     f"{exc.strerror or exc}") from None
    elif environ.get(TOKEN_ENV):
        token = environ[TOKEN_ENV].strip()
    else:
        raise ConfigurationError(f"no REDCap API token: pass --redcap-token-file FILE or set ${TOKEN_ENV}")
    # REDCap tokens are 32 hexadecimal characters (PyCap's Project checks the length too)
    if len(token) != 32 or any(c not in "0123456789abcdefABCDEF" for c in token):
        raise ConfigurationError(f"the REDCap API token is not 32 hexadecimal characters "
                                 f"(found {len(token)} characters)")
    return token


def fetch_records(url: str, token: str, verify_ssl: bool | str = True) -> list[dict[str, str]]:
    """Return every record of the REDCap project at ``url`` (raw values, flat) as rows."""
    from redcap import Project, RedcapError

    if not url.rstrip().endswith("/api/"):
        raise ConfigurationError(f"a REDCap API URL ends with /api/, got {url!r}")
    try:
        records = Project(url, token, verify_ssl=verify_ssl).export_records(
            format_type="json", raw_or_label="raw")
    except RedcapError as exc:  # PyCap's RedcapError is requests' RequestException
        answer = exc.args[0] if exc.args else None
        if isinstance(answer, dict):  # REDCap answered {"error": "..."}, which names no record
            raise InputDataError(f"REDCap at {url} refused the records export: "
                                 f"{answer.get('error', answer)}") from None
        raise ConfigurationError(f"cannot reach REDCap at {url}: {type(exc).__name__}") from None
    if not isinstance(records, list):
        raise InputDataError(f"REDCap at {url} answered something other than a list of records")
    return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in records]
