"""Send the radiomics step's SEG and SR back to the site's PACS with C-STORE (pynetdicom).

One association carries every file; each file's SOP class is proposed in Explicit
VR Little Endian (what highdicom writes). A PACS that refuses the association, a
presentation context or an instance is an error naming the PACS and the file, never
patient data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from sarcoma_xnat.errors import PacsError
from sarcoma_xnat.ingest.pacs import PacsNode

__all__ = ["store_files"]

log = logging.getLogger(__name__)


def store_files(node: PacsNode, paths: Sequence[str | os.PathLike[str]],
                calling_ae: str = "SARCOMAXNAT", timeout: float = 30.0) -> list[str]:
    """C-STORE ``paths`` to ``node``; return the SOP Instance UIDs it accepted, in order."""
    datasets = [(Path(p), pydicom.dcmread(p)) for p in paths]
    ae = AE(ae_title=calling_ae)
    for sop_class in dict.fromkeys(str(ds.SOPClassUID) for _, ds in datasets):
        ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title)
    if not assoc.is_established:
        raise PacsError(f"cannot associate with {node.ae_title} at {node.host}:{node.port} "
                        f"(calling AE {calling_ae}) to store the radiomics results")
    stored = []
    try:
        for path, ds in datasets:
            try:
                status = assoc.send_c_store(ds)
            except ValueError as exc:  # no accepted presentation context for this SOP class
                raise PacsError(f"{node.ae_title} does not accept {path.name} "
                                f"(SOP class {ds.SOPClassUID}): {exc}", file=path.name) from exc
            code = int(getattr(status, "Status", -1)) if status else -1
            if code not in (0x0000, 0xB000, 0xB007, 0xB006):  # success or warning
                raise PacsError(f"C-STORE of {path.name} to {node.ae_title} failed with status "
                                f"0x{code & 0xFFFF:04X}" if code >= 0 else
                                f"C-STORE of {path.name} to {node.ae_title}: no response",
                                file=path.name)
            stored.append(str(ds.SOPInstanceUID))
    finally:
        assoc.release()
    log.info("stored %d files on %s", len(stored), node.ae_title)
    return stored
