"""Automatic tumour segmentation: MONAI bundles, inference, DICOM SEG drafts, review and gated training.

Needs the ``[seg]`` extra (torch, MONAI). Nothing here runs at import time; every
model is a bundle folder on disk (nothing is downloaded).
"""

from __future__ import annotations

__all__: list[str] = []
