"""Emulated OHIF plugin ``/xapi/roi`` API: store, fetch and delete ROI collections.

Follows the ICR OHIF-XNAT plugin (copy read: ``nekoaimo/neko-ohif-xnat``,
``src/main/java/org/nrg/xnatx/roi/``). A PUT saves the assessor several times, and each
save is an ImageAssessorEvent (xnat-web ``EventServiceItemSaveAspect``: CREATED for a new
assessor, UPDATED for a stored one), fired at the moment the plugin saves:

1. ``process/DefaultCollectionStorage.java`` ``createCollectionData``: a stored collection
   (overwrite) is first cleared of its out resources and saved (UPDATED), then saved with
   the new metadata: CREATED for a new one, else UPDATED; no resource yet;
2. ``createAndInsertCatalog``: the catalog exists, the file does not yet (UPDATED; here the
   resource exists with no file);
3. ``createAndInsertResource`` + ``saveCollectionData``: the file is written (UPDATED);
4. ``xapi/OhifRoiApi.java`` ``storeAlternateTypes``: an RTSTRUCT also gets an AIM copy,
   catalog then file (two more UPDATED; the emulator writes a stand-in AIM XML).

Type, UID, name and referenced series are read from the DICOM; a file whose study is
not the session's is refused with 422, as ``checkDependencies`` does. A GET of a missing
collection is 422 "Bad ID or label" and a DELETE 422 "… not valid for project …"
(``OhifRoiApi.getCollection``/``deleteCollection``); an existing label without
``overwrite`` is 422, one in another session 409 (``OhifRoiApi.checkExisting``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pydicom

from sarcoma_xnat.archive import ObjectRef
from xnat_emulator.archive_routes import NotFound, find_session, stage_dir
from xnat_emulator.server import Request, Response, XnatEmulator

ROI_TYPE = "icr:roiCollectionData"
_TYPES = ("SEG", "RTSTRUCT", "AIM", "MEAS")


def _dicom_facts(path: Path) -> dict[str, Any]:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - non-DICOM (AIM/MEAS) carries no facts
        return {}
    series = []
    for study in ds.get("ReferencedSeriesSequence", []) or []:
        series.append(str(study.SeriesInstanceUID))
    for ref in ds.get("ReferencedFrameOfReferenceSequence", []) or []:
        for st in ref.get("RTReferencedStudySequence", []) or []:
            for se in st.get("RTReferencedSeriesSequence", []) or []:
                series.append(str(se.SeriesInstanceUID))
    name = ""
    if "SegmentSequence" in ds and len(ds.SegmentSequence):
        name = str(ds.SegmentSequence[0].get("SegmentLabel", ""))
    elif "StructureSetROISequence" in ds and len(ds.StructureSetROISequence):
        name = str(ds.StructureSetROISequence[0].get("ROIName", ""))
    return {"study": str(ds.get("StudyInstanceUID", "")), "UID": str(ds.get("SOPInstanceUID", "")),
            "name": name or str(ds.get("SeriesDescription", "")), "references": sorted(set(series))}


def _find_collection(emu: XnatEmulator, project: str, key: str) -> ObjectRef:
    archive = emu.archive
    for subj in archive.children(ObjectRef(project), "subject"):
        for sess in archive.children(subj.ref, "session"):
            for assessor in archive.children(sess.ref, "assessor"):
                if assessor.xsi_type == ROI_TYPE and key in (assessor.id, assessor.label):
                    return assessor.ref
    raise NotFound(f"collection {key}")


def _store(emu: XnatEmulator, ref: ObjectRef, ctype: str, label: str, attrs: dict[str, Any],
           scratch: Path) -> Any:
    """Save the collection as the plugin does, firing an event after each assessor save."""
    archive = emu.archive
    fire = emu.fire_assessor_event  # type: ignore[attr-defined]

    def saved(status: str) -> None:
        fire(ref, status)
        emu.roi_store_delay()  # type: ignore[attr-defined]

    existed = archive.exists(ref)
    if existed:  # clearCollectData: out resources removed, then saveCollectionData
        for info in archive.resources(ref):
            archive.delete_resource(ref, info.label)
        saved("UPDATED")
    obj = archive.create(ref, ROI_TYPE, attrs=attrs)
    saved("UPDATED" if existed else "CREATED")
    empty, aim = stage_dir(emu), stage_dir(emu)
    try:
        steps = [(ctype, "DICOM" if ctype in ("SEG", "RTSTRUCT") else ctype, scratch)]
        if ctype == "RTSTRUCT":  # storeAlternateTypes: RTSTRUCT -> AIM
            (aim / f"{label}.xml").write_text(
                '<?xml version="1.0"?><ImageAnnotationCollection xmlns="gme://caCORE.caCORE/4.4/'
                f'edu.northwestern.radiology.AIM"><!-- emulator stand-in for {label} -->'
                "</ImageAnnotationCollection>")
            steps.append(("AIM", "XML", aim))
        for rlabel, fmt, folder in steps:
            archive.store_resource(ref, rlabel, empty, format=fmt, content="EXTERNAL")
            saved("UPDATED")  # createAndInsertCatalog: catalog, no file yet
            archive.store_resource(ref, rlabel, folder, format=fmt, content="EXTERNAL")
            saved("UPDATED")  # the file written, saveCollectionData
    finally:
        shutil.rmtree(empty, ignore_errors=True)
        shutil.rmtree(aim, ignore_errors=True)
    return obj


def register(emu: XnatEmulator) -> None:
    """Add the ROI routes."""
    archive = emu.archive
    base = r"/xapi/roi/projects/([^/]+)"

    def put(req: Request, m: Any) -> Response:
        project, session_key, label = m.group(1), m.group(2), m.group(3)
        ctype = req.query.get("type", "")
        if ctype not in _TYPES:
            return Response.error(400, f"Unsupported collection type {ctype!r}")
        try:
            session = find_session(archive, session_key, project)
        except NotFound:
            return Response.error(404, f"Session {session_key} not found in project {project}")
        scratch = stage_dir(emu)
        try:
            suffix = {"AIM": ".xml", "MEAS": ".json"}.get(ctype, ".dcm")
            body = scratch / f"{label}{suffix}"
            req.stream_to(body)
            try:
                other = _find_collection(emu, project, label)
            except NotFound:
                other = None
            if other is not None and other.session != session.session:
                return Response.error(409, f"Collection {label} exists in another session")
            if other is not None and req.query.get("overwrite") != "true":
                return Response.error(422, f"Collection {label} already exists")
            facts = _dicom_facts(body) if suffix == ".dcm" else {}
            session_uid = archive.get(session).attrs.get("UID")
            if facts.get("study") and session_uid and facts["study"] != session_uid:
                return Response.error(422, "Missing dependencies: StudyInstanceUID does not "
                                           "match the session")
            from xnat_emulator.files_routes import missing_dependencies

            missing = missing_dependencies(emu, session, body) if suffix == ".dcm" else None
            if missing:  # checked before anything is saved (DefaultCollectionStorage)
                return Response.error(422, f"Missing dependencies: {missing}")
            ref = session.child(assessor=label)
            attrs = {"collectionType": ctype, "name": facts.get("name", label),
                     "UID": facts.get("UID", ""), "references": facts.get("references", [])}
            obj = _store(emu, ref, ctype, label, attrs, scratch)
            return Response.text(obj.id)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def get(req: Request, m: Any) -> Response:
        try:
            ref = _find_collection(emu, m.group(1), m.group(2))
        except NotFound:
            return Response.error(422, f"Bad ID or label: {m.group(2)}")
        obj = archive.get(ref)
        wanted = req.query.get("type") or obj.attrs.get("collectionType")
        for info in archive.resources(ref):
            if info.label == wanted and info.files:
                return Response(file=archive.resource_path(ref, info.label) / info.files[0])
        return Response.error(422, f"Collection {m.group(2)} cannot be converted to {wanted}")

    def delete(req: Request, m: Any) -> Response:
        try:
            archive.delete(_find_collection(emu, m.group(1), m.group(2)))
        except NotFound:
            return Response.text(f"ROI collection {m.group(2)} not valid for project {m.group(1)}", 422)
        return Response.text("")

    def exists(req: Request, m: Any) -> Response:
        try:
            _find_collection(emu, m.group(1), m.group(2))
        except NotFound:
            return Response.text("false")
        return Response.text("true")

    emu.route("PUT", base + r"/sessions/([^/]+)/collections/([^/]+)", put)
    emu.route("GET", base + r"/collections/([^/]+)", get)
    emu.route("DELETE", base + r"/collections/([^/]+)", delete)
    emu.route("GET", base + r"/exists/([^/]+)", exists)
