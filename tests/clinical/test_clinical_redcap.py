"""``clinical import --redcap``: PyCap against a fake REDCap API on loopback (never a network)."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.deid.keys import SiteKey

pytest.importorskip("redcap")

TOKEN = "0123456789ABCDEF0123456789ABCDEF"
SECRET = b"redcap-test-secret-0123456789ab"
MRN = "H00442817"


def _record(**changes: str) -> dict[str, str]:
    record = {"patient_id": MRN, "age": "58", "sex": "F", "tumour_location": "buttock",
              "diagnosis": "myxofibrosarcoma", "neoadjuvant_chemo": "no", "tumour_size_cm": "9.5",
              "tumour_volume_cm3": "150.2", "tumour_depth": "deep", "tumour_grade": "2",
              "metastases_at_presentation": "no", "radiotherapy": "adjuvant", "os_months": "60.0",
              "os_event": "0", "dm_months": "", "dm_event": "", "sarcoma_clinical_complete": "2"}
    record.update(changes)
    return record


def _metadata() -> list[dict[str, str]]:
    """The project's metadata export: the shipped REDCap data dictionary, as REDCap lists it."""
    text = files("sarcoma_xnat.clinical").joinpath("data", "redcap_data_dictionary.csv").read_text()
    keys = ("field_name", "form_name", "section_header", "field_type", "field_label",
            "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
            "text_validation_min", "text_validation_max", "identifier", "branching_logic",
            "required_field", "custom_alignment", "question_number", "matrix_group_name",
            "matrix_ranking", "field_annotation")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return [dict(zip(keys, row)) for row in rows]


class _FakeRedcap(BaseHTTPRequestHandler):
    """The records export of REDCap's API: POST /api/ with token, content=record, format=json."""

    records: list[dict[str, str]] = []
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        type(self).seen.append(form)
        if self.path != "/api/" or form.get("token") != TOKEN:
            self._answer(403, {"error": "You do not have permissions to use the API"})
        elif form.get("content") == "record" and form.get("format") == "json":
            self._answer(200, type(self).records)
        elif form.get("content") == "metadata" and form.get("format") == "json":
            self._answer(200, _metadata())
        else:
            self._answer(400, {"error": "unsupported request"})

    def _answer(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redcap() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRedcap)
    _FakeRedcap.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


def _setup(tmp_path: Path) -> tuple[LocalArchive, str, Path]:
    archive = LocalArchive(tmp_path / "archive")
    archive.create(ObjectRef("SARC01"))
    subject = SiteKey(SECRET).pseudonym(MRN)
    archive.create(ObjectRef("SARC01", subject))
    secret = tmp_path / "site.key"
    secret.write_bytes(SECRET)
    return archive, subject, secret


def test_redcap_records_land_as_subject_fields(tmp_path: Path, redcap: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    archive, subject, secret = _setup(tmp_path)
    _FakeRedcap.records = [_record()]
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap, "--secret-file", str(secret)]) == 0
    fields = archive.get(ObjectRef("SARC01", subject)).fields
    assert fields["diagnosis"] == "myxofibrosarcoma" and fields["os_months"] == "60.0"
    assert "dm_months" not in fields and "patient_id" not in fields
    assert "sarcoma_clinical_complete" not in fields
    assert _FakeRedcap.seen[-1]["rawOrLabel"] == "raw"


def test_redcap_bad_record_and_token_file(tmp_path: Path, redcap: str,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    archive, subject, secret = _setup(tmp_path)
    monkeypatch.delenv("REDCAP_API_TOKEN", raising=False)
    _FakeRedcap.records = [_record(tumour_depth="intermediate")]
    token = tmp_path / "redcap.token"
    token.write_text(TOKEN + "\n")
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap, "--redcap-token-file", str(token),
                 "--secret-file", str(secret)]) == 2
    err = capsys.readouterr().err
    assert f"row 2 (subject {subject}): tumour_depth: invalid" in err
    assert MRN not in err and TOKEN not in err
    assert archive.get(ObjectRef("SARC01", subject)).fields == {}


def test_redcap_refusal_names_no_token(tmp_path: Path, redcap: str,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    archive, _, secret = _setup(tmp_path)
    wrong = "F" * 32
    monkeypatch.setenv("REDCAP_API_TOKEN", wrong)
    assert main(["clinical", "import", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap, "--secret-file", str(secret)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "permissions" in err and wrong not in err
