"""sarcoma-xnat: an XNAT-integrated container plugin suite for a soft-tissue-sarcoma AI study.

Nothing is imported eagerly beyond the archive and the errors: heavy stacks
(torch, MONAI, NVFlare) load only inside the commands that need them.
"""

from sarcoma_xnat.archive import Archive, LocalArchive, ObjectRef
from sarcoma_xnat.errors import SarcomaXnatError

__version__ = "0.1.0"

__all__ = ["Archive", "LocalArchive", "ObjectRef", "SarcomaXnatError", "__version__"]
