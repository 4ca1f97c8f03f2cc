"""``clinical import --redcap`` and ``clinical send-measurements``: PyCap against a fake REDCap
API on loopback (never a network)."""

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
    """REDCap's API: POST /api/ with token; records export and import (content=record, data=...).

    An import is refused, as REDCap does, when a record names a field the project's
    data dictionary (the shipped one) does not have.
    """

    records: list[dict[str, str]] = []
    seen: list[dict[str, str]] = []
    imported: list[dict[str, str]] = []
    refuse_imports = False

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        type(self).seen.append(form)
        if self.path != "/api/" or form.get("token") != TOKEN:
            self._answer(403, {"error": "You do not have permissions to use the API"})
        elif form.get("content") == "record" and "data" in form:
            self._import(json.loads(form["data"]))
        elif form.get("content") == "record" and form.get("format") == "json":
            self._answer(200, type(self).records)
        elif form.get("content") == "metadata" and form.get("format") == "json":
            self._answer(200, _metadata())
        else:
            self._answer(400, {"error": "unsupported request"})

    def _import(self, records: list[dict[str, str]]) -> None:
        known = {f["field_name"] for f in _metadata()}
        unknown = sorted({k for r in records for k in r} - known)
        if type(self).refuse_imports or unknown:
            self._answer(400, {"error": f"The following fields were not found: {', '.join(unknown)}"})
            return
        type(self).imported.extend(records)
        self._answer(200, {"count": len(records)})

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
    _FakeRedcap.imported = []
    _FakeRedcap.refuse_imports = False
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


_MEASUREMENTS = {
    "tumour": {"volume_mm3": 161250.0, "longest_diameter_mm": 98.26, "longest_axial_diameter_mm": 81.04},
    "intensity": {"t1": {"mean": 0.5123, "std": 0.81, "median": 0.4, "p05": -0.9, "p95": 1.95, "voxels": 9},
                  "t2": {"mean": 1.25, "std": 0.5, "median": 1.2, "p05": 0.375, "p95": 2.0, "voxels": 9}},
}
#: what the record of a session with _MEASUREMENTS carries (written out by hand)
_EXPECTED = {"tumour_volume_ml": "161.250", "tumour_longest_diameter_mm": "98.3",
             "tumour_longest_axial_diameter_mm": "81.0", "t1_roi_mean": "0.5123", "t1_roi_std": "0.8100",
             "t1_roi_median": "0.4000", "t1_roi_p05": "-0.9000", "t1_roi_p95": "1.9500",
             "t2_roi_mean": "1.2500", "t2_roi_std": "0.5000", "t2_roi_median": "1.2000",
             "t2_roi_p05": "0.3750", "t2_roi_p95": "2.0000", "tumour_size_check": "ok"}


def _preprocessed(archive: LocalArchive, tmp_path: Path, subject: str, session: str,
                  tamper: bool = False, fields: dict[str, str] | None = None) -> None:
    """Store a PREPROCESSED result (measurements.json and its manifest) on a new session."""
    from sarcoma_xnat.steps.manifest import write_manifest

    if not archive.exists(ObjectRef("SARC01", subject)):
        archive.create(ObjectRef("SARC01", subject), fields=fields)
    ref = ObjectRef("SARC01", subject, session)
    archive.create(ref, "xnat:mrSessionData")
    folder = tmp_path / f"pre-{subject}-{session}"
    folder.mkdir()
    (folder / "measurements.json").write_text(json.dumps(_MEASUREMENTS))
    write_manifest(folder, "preprocess", "0.1.0", "f" * 64)
    if tamper:  # a re-run's measurements merged over the listed ones: no longer the manifest's
        (folder / "measurements.json").write_text(json.dumps({"tumour": None}))
    archive.store_resource(ref, "PREPROCESSED", folder)


def _measurement_archive(tmp_path: Path) -> tuple[LocalArchive, str]:
    archive, subject, _ = _setup(tmp_path)
    archive.create(ObjectRef("SARC01", subject), fields={"tumour_size_cm": "9.5",
                                                         "tumour_volume_cm3": "150.2"})
    _preprocessed(archive, tmp_path, subject, "MR1")
    _preprocessed(archive, tmp_path, "SXNBROKEN0001", "MR1", tamper=True)
    archive.create(ObjectRef("SARC01", "SXNBROKEN0001", "MR2"), "xnat:mrSessionData")  # never preprocessed
    return archive, subject


def test_send_measurements_sends_the_session_fields(tmp_path: Path, redcap: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    archive, subject = _measurement_archive(tmp_path)
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    assert main(["clinical", "send-measurements", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap]) == 0
    assert _FakeRedcap.imported == [{"patient_id": subject, **_EXPECTED}]
    out, err = capsys.readouterr()
    assert "sent 1 records" in out
    assert "SXNBROKEN0001/MR1: skipped: the preprocess result is inconsistent" in err
    assert "SXNBROKEN0001/MR2: skipped: no PREPROCESSED resource" in err
    assert MRN not in out + err and TOKEN not in out + err


def test_send_measurements_one_record_per_subject_and_size_check(tmp_path: Path, redcap: str,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    archive, subject, _ = _setup(tmp_path)
    archive.create(ObjectRef("SARC01", subject), fields={"tumour_size_cm": "4.0"})  # 98 mm measured
    _preprocessed(archive, tmp_path, subject, "MR1")
    _preprocessed(archive, tmp_path, subject, "MR2")
    _preprocessed(archive, tmp_path, "SXNNOCLIN0001", "MR1")
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    assert main(["clinical", "send-measurements", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap]) == 0
    by_id = {r["patient_id"]: r for r in _FakeRedcap.imported}
    assert sorted(by_id) == sorted([subject, "SXNNOCLIN0001"]) and len(_FakeRedcap.imported) == 2
    assert by_id[subject]["tumour_size_check"] == "disagree"
    assert by_id["SXNNOCLIN0001"]["tumour_size_check"] == "not_entered"
    assert f"{subject}/MR1: skipped: a later session of the subject (MR2) is sent" in capsys.readouterr().err


def test_send_measurements_dry_run_sends_nothing(tmp_path: Path, redcap: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    archive, subject = _measurement_archive(tmp_path)
    monkeypatch.delenv("REDCAP_API_TOKEN", raising=False)
    assert main(["clinical", "send-measurements", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{subject} (session MR1): tumour_volume_ml, tumour_longest_diameter_mm" in out
    assert "would send 1 records" in out and MRN not in out and "161.250" not in out
    assert _FakeRedcap.seen == [] and _FakeRedcap.imported == []


def test_send_measurements_redcap_error_exits_2(tmp_path: Path, redcap: str,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    archive, _ = _measurement_archive(tmp_path)
    token = tmp_path / "redcap.token"
    token.write_text(TOKEN + "\n")
    monkeypatch.delenv("REDCAP_API_TOKEN", raising=False)
    _FakeRedcap.refuse_imports = True
    assert main(["clinical", "send-measurements", "--archive", str(archive.root), "--project", "SARC01",
                 "--redcap", redcap, "--redcap-token-file", str(token)]) == 2
    err = capsys.readouterr().err
    assert "refused the records import" in err and TOKEN not in err
    assert _FakeRedcap.imported == []


def test_shipped_redcap_dictionary_takes_the_measurement_fields() -> None:
    known = {f["field_name"]: f for f in _metadata()}
    assert set(_EXPECTED) <= set(known)
    assert known["tumour_size_check"]["select_choices_or_calculations"] == \
        "ok, ok | disagree, disagree | not_entered, not entered"
    assert known["tumour_volume_ml"]["text_validation_type_or_show_slider_number"] == "number"
