"""The export's ``dataset.jsonld``: a schema.org Dataset with W3C PROV provenance of every file.

* ``license``, ``creator`` (an Organization), ``name``, ``description``, ``keywords``,
  ``variableMeasured`` (the tables' columns);
* ``distribution``: one ``DataDownload`` per file with ``contentUrl`` (relative path),
  ``encodingFormat``, ``contentSize`` and ``sha256``; image files also carry
  ``prov:wasDerivedFrom`` (the archive file and its sha256) and ``prov:wasGeneratedBy``
  (the step run: step, version, run id, parameters);
* ``isBasedOn``: the software that made the data (``SoftwareApplication`` with
  ``softwareVersion``), read from the steps' provenance records in the archive.

No time of the export is written (the same archive gives the same bytes); the
steps' own run times stay in their provenance records in the archive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sarcoma_xnat import __version__
from sarcoma_xnat.steps.base import file_sha256

__all__ = ["CONTEXT", "dataset_description"]

#: JSON-LD context: schema.org terms by default, ``prov:`` for W3C PROV-O
CONTEXT = {"@vocab": "https://schema.org/", "prov": "http://www.w3.org/ns/prov#"}
_ENCODING = {".nii.gz": "application/x-nifti+gzip", ".nrrd": "application/x-nrrd",
             ".csv": "text/csv"}


def _encoding(path: str) -> str:
    return next((v for k, v in _ENCODING.items() if path.endswith(k)), "application/octet-stream")


def _provenance(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "provenance.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _run(step: str, manifest: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in (provenance.get("parameters") or {}).items()
              if k not in ("subject", "session", "parameter_text")}
    return {"@type": "prov:Activity", "name": step, "softwareVersion": str(manifest.get("version")),
            "identifier": str(manifest.get("run_id")),
            "prov:used": str(manifest.get("fingerprint")),
            "additionalProperty": [{"@type": "PropertyValue", "name": k, "value": json.dumps(v, sort_keys=True)}
                                   for k, v in sorted(params.items())]}


def _software(sessions: Sequence[Any]) -> list[dict[str, Any]]:
    versions: dict[str, set[str]] = {"sarcoma-xnat": {__version__}}
    for s in sessions:
        folders = [s.folder] + ([s.folder.parent / "rad"] if s.radiomics is not None else [])
        for folder in folders:
            for lib, version in (_provenance(folder).get("libraries") or {}).items():
                versions.setdefault(str(lib), set()).add(str(version))
    return [{"@type": "SoftwareApplication", "name": lib, "softwareVersion": v}
            for lib in sorted(versions) for v in sorted(versions[lib])]


def dataset_description(project: str, sessions: Sequence[Any], rows: Sequence[Mapping[str, Any]],
                        tables: Mapping[str, str], out: Path, license_url: str, creator: str,
                        name: str | None = None) -> dict[str, Any]:
    """Return the JSON-LD description of an export (see the module docstring)."""
    by_session = {(s.subject, s.session): s for s in sessions}
    runs = {key: _run("preprocess", s.manifest, _provenance(s.folder)) for key, s in by_session.items()}
    files = []
    for row in rows:
        s = by_session[(row["subject"], row["session"])]
        files.append({"@type": "DataDownload", "contentUrl": row["path"],
                      "encodingFormat": _encoding(row["path"]), "contentSize": str(row["size"]),
                      "sha256": row["sha256"], "about": f"{row['subject']}/{row['session']} {row['role']}",
                      "prov:wasDerivedFrom": {"identifier": row["source"], "sha256": row["source_sha256"]},
                      "prov:wasGeneratedBy": runs[(s.subject, s.session)]})
    for fname in sorted(tables):
        path = out / fname
        entry: dict[str, Any] = {"@type": "DataDownload", "contentUrl": fname,
                                 "encodingFormat": "text/csv", "contentSize": str(path.stat().st_size),
                                 "sha256": file_sha256(path)}
        if fname == "radiomics.csv":
            entry["prov:wasGeneratedBy"] = sorted(
                (_run("radiomics", s.radiomics_manifest, _provenance(s.folder.parent / "rad"))
                 for s in sessions if s.radiomics_manifest is not None), key=lambda r: r["identifier"])
        files.append(entry)
    columns = sorted({c for text in tables.values() for c in (text.splitlines() or [""])[0].split(",") if c})
    return {
        "@context": CONTEXT, "@type": "Dataset",
        "name": name or f"{project} curated sarcoma MRI cohort",
        "description": (f"Curated cohort of project {project}: N4-corrected T1- and T2-weighted MR "
                        "images and tumour masks on each series' grid and on the 128^3 model grid "
                        "(NIfTI and NRRD), clinical variables, tumour measurements and PyRadiomics "
                        "features, exported by sarcoma-xnat from its archive. Subjects are "
                        "pseudonyms; no patient identifiers are included."),
        "identifier": f"{project}-curated-cohort",
        "license": license_url,
        "creator": {"@type": "Organization", "name": creator},
        "keywords": ["soft-tissue sarcoma", "MRI", "radiomics", "segmentation", "survival"],
        "variableMeasured": columns,
        "measurementTechnique": ["MRI", "N4 bias field correction", "PyRadiomics"],
        "size": f"{len(sessions)} sessions",
        "isBasedOn": _software(sessions),
        "distribution": files,
    }
