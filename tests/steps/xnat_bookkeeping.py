"""Test helper: put into a staged session what XNAT keeps beside the data (catalogs, SNAPSHOTS, AIM).

Other test folders load it by path (see tests/deid/test_deid_step.py).
"""

from __future__ import annotations

from pathlib import Path

#: a resource catalog as xnat-web's DefaultCatalogService writes it (shortened)
CATALOG = ('<?xml version="1.0" encoding="UTF-8"?>\n<cat:{root} xmlns:cat="http://nrg.wustl.edu/catalog"'
           ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{id}">\n'
           '<cat:entries><cat:entry URI="{uri}" ID="{uri}"/></cat:entries>\n</cat:{root}>\n')
#: the ROI plugin's AIM copy of an RTSTRUCT: AIM carries the patient's name
AIM = ('<?xml version="1.0"?>\n<ImageAnnotationCollection xmlns="gme://caCORE.caCORE/4.4/'
       'edu.northwestern.radiology.AIM"><person><name value="{name}"/></person>'
       '</ImageAnnotationCollection>\n')


def add_xnat_bookkeeping(session: Path, phi_name: str = "DOE^JANE") -> list[Path]:
    """Add what XNAT keeps in a session folder beside the data; return the files added."""
    added = []
    for scan in sorted((session / "SCANS").iterdir()):
        for res in sorted(p for p in scan.iterdir() if p.is_dir()):
            first = next(iter(sorted(res.iterdir()))).name
            path = res / f"scan_{scan.name}_catalog.xml"
            path.write_text(CATALOG.format(root="DCMCatalog", id=f"scan_{scan.name}", uri=first))
            added.append(path)
        snaps = scan / "SNAPSHOTS"
        snaps.mkdir()
        for name in (f"{scan.name}_qc.gif", f"{scan.name}_qc_t.gif", "SNAPSHOTS_catalog.xml"):
            (snaps / name).write_bytes(b"GIF89a\x01\x00\x01\x00")
            added.append(snaps / name)
    for assessor in sorted((session / "ASSESSORS").iterdir()):
        for res in sorted(p for p in assessor.iterdir() if p.is_dir()):
            path = res / f"{res.name}_catalog.xml"
            path.write_text(CATALOG.format(root="Catalog", id=res.name, uri="x.dcm"))
            added.append(path)
        if (assessor / "RTSTRUCT").is_dir():
            aim = assessor / "AIM"
            aim.mkdir()
            (aim / f"{assessor.name}.xml").write_text(AIM.format(name=phi_name))
            added.append(aim / f"{assessor.name}.xml")
    return added
