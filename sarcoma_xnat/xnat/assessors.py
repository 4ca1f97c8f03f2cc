"""Assessors: create one from its XML document, list by xsiType, read one back."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, XnatError
from sarcoma_xnat.xnat.objects import ObjectsApi
from sarcoma_xnat.xnat.refs import XnatItem, data_path
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["AssessorsApi"]

_ROOT_TYPE = re.compile(r"<\s*([A-Za-z][\w-]*:[A-Za-z]\w*)[\s>]")


class AssessorsApi:
    """Image assessors; reached as ``client.assessors``."""

    def __init__(self, session: XnatSession, objects: ObjectsApi) -> None:
        self.session = session
        self.objects = objects

    def create_from_xml(self, session_ref: ObjectRef, label: str,
                        xml: str | bytes | os.PathLike[str]) -> ObjectRef:
        """PUT an assessor XML document under a session; return the assessor's reference.

        The XML root element names the xsiType (e.g. ``<icr:roiCollectionData ...>``)
        and must carry the same ``label``. An existing assessor of that label is
        replaced: a PUT on an existing experiment merges the XML into it (fields it
        leaves out are kept) unless ``allowDataDeletion=true`` is sent, which this does
        (xnat-web ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/SubjAssessmentResource.java``
        and ``ExptAssessmentResource.java``: ``create(expt, false, allowDataDeletion, ...)``).
        """
        if isinstance(xml, os.PathLike) or (isinstance(xml, str) and not xml.lstrip().startswith("<")):
            body = Path(xml).read_bytes()
        else:
            body = xml.encode() if isinstance(xml, str) else xml
        text = body[:4096].decode("utf-8", errors="replace")
        text = re.sub(r"<\?.*?\?>", "", text, flags=re.S)
        match = _ROOT_TYPE.search(text)
        if match is None:
            raise ConfigurationError(f"assessor XML for {label!r} has no namespaced root element",
                                     assessor=label, **session_ref.session_ref.context())
        ref = session_ref.session_ref.child(assessor=label)
        try:
            self.session.put(data_path(ref), params={"inbody": "true", "xsiType": match.group(1),
                                     "allowDataDeletion": "true"},
                             data=body, headers={"Content-Type": "text/xml"})
        except XnatError as exc:
            raise exc.with_context(**ref.context())
        return ref

    def list(self, session_ref: ObjectRef, xsi_type: str | None = None) -> list[dict[str, Any]]:
        """List a session's assessors, optionally only those of ``xsi_type``."""
        return self.objects.assessors(session_ref, xsi_type)

    def get(self, ref: ObjectRef) -> XnatItem:
        """Return an assessor's items JSON."""
        return self.objects.get(ref)
