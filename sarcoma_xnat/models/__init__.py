"""Networks, losses and metrics of the multimodal sarcoma survival model.

Pure computation over in-memory arrays; nothing here reads files. The numpy-only
modules (:mod:`.metrics`, :mod:`.encoding`, :mod:`.survival`, :mod:`.blending`)
import without torch; :mod:`.networks`, :mod:`.losses` and :mod:`.training` need
the ``seg`` extra (torch, MONAI). Import submodules directly; this package imports
nothing heavy.
"""

from __future__ import annotations

__all__: list[str] = []
