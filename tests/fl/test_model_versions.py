"""The model as an artefact: published versions with their cards, rollback, refusal of a model that does not fit."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
SESSION = ObjectRef("SITEA", "SITEA001", "SITEA001_MR1")
LABELS = [f"SITEA{i:03d}" for i in range(1, 52)]  # 48 curated + 3 broken subjects


@pytest.fixture(scope="module")
def trained(curated_site: LocalArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("versions") / "train"
    assert main(["model", "train", "--archive", str(curated_site.root), "--project", "SITEA",
                 "--output", str(out), "--image-size", "32", "--epochs", "1", "--ensemble", "1",
                 "--bootstrap", "5"]) == 0
    return out


def _variant(trained: Path, dest: Path, **meta_changes) -> Path:
    """Save the trained model again with changed meta, with a fresh card beside it."""
    from sarcoma_xnat.fl.checkpoint import load_checkpoint, save_checkpoint
    from sarcoma_xnat.fl.model_card import write_model_card

    model, meta = load_checkpoint(trained / "model.pt")
    dest.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(dest / "model.pt", model, {**meta, **meta_changes})
    write_model_card(path, {**meta, **meta_changes}, {"project": "SITEA"})
    return path


def _copy(curated_site: LocalArchive, dest: Path) -> LocalArchive:
    shutil.copytree(curated_site.root, dest)
    return LocalArchive(dest)


def test_publish_use_list_and_prognosis_records_the_version(curated_site: LocalArchive, trained: Path,
                                                            tmp_path: Path, capsys) -> None:
    from sarcoma_xnat.steps.base import file_sha256

    archive = _copy(curated_site, tmp_path / "archive")
    second = _variant(trained, tmp_path / "second", note_for_test="second")
    where = ["--archive", str(archive.root), "--project", "SITEA"]
    assert main(["model", "publish", *where, "--model", str(trained / "model.pt")]) == 0
    assert main(["model", "publish", *where, "--model", str(second)]) == 0
    assert "as version 2" in capsys.readouterr().out
    folder = archive.resource_path(ObjectRef("SITEA"), "PROGNOSIS_MODEL")
    registry = json.loads((folder / "registry.json").read_text())
    assert registry["current"] == "2" and [v["version"] for v in registry["versions"]] == ["1", "2"]
    for version, source in (("1", trained / "model.pt"), ("2", second)):
        assert file_sha256(folder / version / "model.pt") == file_sha256(source)
        assert {"model_card.json", "model_card.md", "model_card.html"} <= {
            p.name for p in (folder / version).iterdir()}

    # the same file again is refused; rollback keeps both versions
    assert main(["model", "publish", *where, "--model", str(second)]) == 2
    assert "published already as version 2" in capsys.readouterr().err
    assert main(["model", "use", *where, "1"]) == 0
    registry = json.loads((folder / "registry.json").read_text())
    assert registry["current"] == "1" and len(registry["versions"]) == 2
    assert [h["action"] for h in registry["history"]] == ["publish", "publish", "use"]
    assert main(["model", "list", *where]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows if len(r) > 1 and r[1] == "*"] == [("1", "*")]

    # prognosis without --model uses the project's current version and says which
    assert main(["prognosis", "--archive", str(archive.root), "--target", SESSION.uri]) == 0
    stored = archive.resource_path(SESSION, "PROGNOSIS")
    result = json.loads((stored / "prognosis.json").read_text())
    assert result["model"] == {"version": "1", "sha256": file_sha256(trained / "model.pt")}
    provenance = json.loads((stored / "provenance.json").read_text())
    assert provenance["inputs"]["model"]["version"] == "1"
    assert provenance["parameters"]["model_version"] == "1"
    assert main(["prognosis", "--archive", str(archive.root), "--target", SESSION.uri,
                 "--version", "2"]) == 0
    result = json.loads((archive.resource_path(SESSION, "PROGNOSIS") / "prognosis.json").read_text())
    assert result["model"]["version"] == "2" and result["model"]["sha256"] == file_sha256(second)
    assert main(["model", "use", *where, "7"]) == 2
    assert "no prognosis model version '7'" in capsys.readouterr().err


def test_publish_refuses_a_model_without_its_card(trained: Path, tmp_path: Path, capsys) -> None:
    archive = LocalArchive(tmp_path / "a")
    archive.create(ObjectRef("P"))
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy2(trained / "model.pt", lone / "model.pt")
    assert main(["model", "publish", "--archive", str(archive.root), "--project", "P",
                 "--model", str(lone / "model.pt")]) == 2
    assert "no model_card.json beside model.pt" in capsys.readouterr().err
    shutil.copy2(trained / "model_card.json", lone / "model_card.json")
    (lone / "model.pt").write_bytes((lone / "model.pt").read_bytes() + b"\0")  # no longer the carded file
    assert main(["model", "publish", "--archive", str(archive.root), "--project", "P",
                 "--model", str(lone / "model.pt")]) == 2
    assert not archive.resources(ObjectRef("P"))


def test_versions_on_xnat_as_project_resource_files(trained: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from xnat_emulator import XnatEmulator

    from sarcoma_xnat.archive.xnat import XnatArchive
    from sarcoma_xnat.fl.registry import fetch_models, publish_model, resolve_model, use_model
    from sarcoma_xnat.steps.base import file_sha256
    from sarcoma_xnat.xnat import connect
    from sarcoma_xnat.xnat.refs import ResourceRef

    second = _variant(trained, tmp_path / "second", note_for_test="second")
    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass"}).start()
    try:
        emu.archive.create(ObjectRef("PX"))
        client = connect(emu.url, "admin", "admin-pass", backoff=0.01)
        xnat = XnatArchive(client)
        publish_model(xnat, "PX", trained / "model.pt")
        publish_model(xnat, "PX", second, make_current=False)
        use_model(xnat, "PX", "2")
        # the files went to /data/projects/PX/resources/PROGNOSIS_MODEL/files/...
        resource = ResourceRef(ObjectRef("PX"), "PROGNOSIS_MODEL")
        assert resource.files_path.endswith("/projects/PX/resources/PROGNOSIS_MODEL/files")
        names = {row["URI"].split("/files/", 1)[1] for row in client.files.files(resource)}
        assert {"registry.json", "1/model.pt", "2/model.pt", "2/model_card.html"} <= names
        chosen = resolve_model(fetch_models(xnat, "PX", tmp_path / "fetched"))
        assert chosen.version == "2" and chosen.sha256 == file_sha256(second)
        client.close()
    finally:
        emu.stop()


def _session_folder(curated_site: LocalArchive, tmp_path: Path) -> tuple[Path, dict]:
    staged = tmp_path / "input" / "RESOURCES" / "PREPROCESSED" / "files"
    curated_site.fetch_resource(SESSION, "PREPROCESSED", staged)
    return tmp_path / "input", dict(curated_site.get(SESSION.parent).fields)


def _grid_shape(folder: Path) -> list[int]:
    import nibabel as nib

    return list(nib.load(str(folder / "RESOURCES" / "PREPROCESSED" / "files" / "t1.nii.gz")).shape)


def test_training_records_the_preprocessing_of_its_images(curated_site: LocalArchive, trained: Path,
                                                          tmp_path: Path) -> None:
    from sarcoma_xnat.fl.checkpoint import load_checkpoint

    folder, _ = _session_folder(curated_site, tmp_path)
    _, meta = load_checkpoint(trained / "model.pt")
    assert meta["preprocessing"] == [{"step_version": "synthetic", "grid_shape": _grid_shape(folder),
                                      "parameters": None}]


@pytest.mark.parametrize("kind", ["encoding version", "feature names", "image size",
                                  "preprocessing parameters"])
def test_prognosis_refuses_a_model_that_does_not_fit(kind: str, curated_site: LocalArchive,
                                                     trained: Path, tmp_path: Path) -> None:
    from sarcoma_xnat.errors import ModelError
    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.steps.prognosis import run

    folder, clinical = _session_folder(curated_site, tmp_path)
    _, meta = load_checkpoint(trained / "model.pt")
    shape = _grid_shape(folder)
    params = {"grid": "fov", "interpolator": "bspline", "margin_mm": 20.0,
              "n4_iterations": [50, 50, 50], "n4_target_voxels": 100000, "size": shape[0]}
    files = folder / "RESOURCES" / "PREPROCESSED" / "files"
    manifest = json.loads((files / "manifest.json").read_text())
    # the provenance of this very run (its fingerprint is the manifest's): made with linear
    (files / "provenance.json").write_text(json.dumps({
        "step": "preprocess", "parameters": {**params, "interpolator": "linear", "roi_type": "SEG"},
        "inputs": {"fingerprint": manifest["fingerprint"]}}))
    names = list(meta["feature_names"])
    changes = {
        "encoding version": {"encoding_version": 99},
        "feature names": {"feature_names": [names[1], names[0], *names[2:]]},
        "image size": {"preprocessing": [{"step_version": "synthetic",
                                          "grid_shape": [2 * n for n in shape], "parameters": None}]},
        "preprocessing parameters": {"preprocessing": [{"step_version": "0.1.0", "grid_shape": shape,
                                                        "parameters": params}]},
    }[kind]
    model = _variant(trained, tmp_path / "variant", **changes)
    with pytest.raises(ModelError, match=re.escape(kind) + " mismatch") as info:
        run(folder, tmp_path / "out", model, clinical, "SITEA001_MR1")
    assert getattr(info.value, "mismatch", None) == kind
    if kind == "preprocessing parameters":
        assert "interpolator: model 'bspline', data 'linear'" in str(info.value)
    assert not (tmp_path / "out").exists()
    # the same data with the trained model's own meta is accepted
    run(folder, tmp_path / "ok", trained / "model.pt", clinical, "SITEA001_MR1")
    assert (tmp_path / "ok" / "prognosis.json").is_file()


def test_mismatch_exits_2_naming_it(curated_site: LocalArchive, trained: Path, tmp_path: Path,
                                    capsys) -> None:
    folder, clinical = _session_folder(curated_site, tmp_path)
    (tmp_path / "clinical.json").write_text(json.dumps(clinical))
    model = _variant(trained, tmp_path / "variant", encoding_version=99)
    assert main(["prognosis", "--input", str(folder), "--output", str(tmp_path / "out"),
                 "--model", str(model), "--clinical", str(tmp_path / "clinical.json")]) == 2
    assert "encoding version mismatch" in capsys.readouterr().err


def test_html_card_has_both_plots_and_no_pseudonyms(curated_site: LocalArchive, trained: Path) -> None:
    page = (trained / "model_card.html").read_text()
    for endpoint in ("overall survival", "distant metastasis"):
        for title in ("Kaplan–Meier by predicted risk group", "Calibration"):
            assert re.search(rf'<img alt="{title}, {endpoint}" src="data:image/png;base64,[A-Za-z0-9+/=]{{200,}}"',
                             page), (title, endpoint)
    card = json.loads((trained / "model_card.json").read_text())
    assert card["model"]["sha256"] in page and "not for patients" in page
    assert f"{card['metrics']['os']['harrell_c']['value']:.3f}" in page
    sessions = [s.label for subj in curated_site.children(ObjectRef("SITEA"), "subject")
                for s in curated_site.children(subj.ref, "session")]
    assert len(sessions) >= 48
    assert not [s for s in sessions + LABELS if s in page]
    assert not re.search(r"(src|href)=\"(https?:|//)|<script|<link|@import|url\(", page)
