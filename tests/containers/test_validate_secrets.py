"""The validator accepts the Container Service's ``secrets`` block as CS 3.3+ deserialises it."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_validate import good  # noqa: E402

from sarcoma_xnat.containers.validate import command_errors  # noqa: E402

SECRET = {"source": {"type": "system-property", "identifier": "sarcoma.xnat.site-secret"},
          "destination": {"type": "environment-variable", "identifier": "SARCOMA_XNAT_SITE_SECRET"}}


def test_system_property_to_environment_variable_is_valid() -> None:
    assert command_errors({**good(), "secrets": [SECRET]}) == []


@pytest.mark.parametrize("change, expected", [
    (lambda s: s["source"].update(type="vault"), "secret source"),
    (lambda s: s["source"].pop("identifier"), "secret source"),
    (lambda s: s["destination"].update(type="file"), "secret destination"),
    (lambda s: s.pop("destination"), "secret destination"),
    (lambda s: s["destination"].update(identifier="XNAT_PASS"), "reserved"),
])
def test_secrets_xnat_would_refuse(change, expected) -> None:
    secret = copy.deepcopy(SECRET)
    change(secret)
    errors = command_errors({**good(), "secrets": [secret]})
    assert any(expected in e for e in errors), errors
