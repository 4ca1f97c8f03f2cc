"""A thin XNAT SDK on ``requests``: one HTTP choke point, typed references, one API per concern.

>>> from sarcoma_xnat.xnat import connect                      # doctest: +SKIP
>>> with connect() as xnat:      # XNAT_HOST/XNAT_USER/XNAT_PASS or ~/.netrc
...     xnat.files.download_resource(ResourceRef(ref, "DICOM"), "in/")

Nothing here touches the network at import time, and nothing imports torch.
"""

from sarcoma_xnat.xnat.auth import AliasToken, Credentials, resolve_credentials
from sarcoma_xnat.xnat.client import XnatClient, connect
from sarcoma_xnat.xnat.containers import TERMINAL_STATUSES
from sarcoma_xnat.xnat.events import action_key, subscription_body
from sarcoma_xnat.xnat.refs import ObjectRef, ResourceRef, XnatItem
from sarcoma_xnat.xnat.roi import ROI_XSI_TYPE, RoiCollection
from sarcoma_xnat.xnat.session import XnatSession

__all__ = [
    "AliasToken",
    "Credentials",
    "ObjectRef",
    "ROI_XSI_TYPE",
    "ResourceRef",
    "RoiCollection",
    "TERMINAL_STATUSES",
    "XnatClient",
    "XnatItem",
    "XnatSession",
    "action_key",
    "connect",
    "resolve_credentials",
    "subscription_body",
]
