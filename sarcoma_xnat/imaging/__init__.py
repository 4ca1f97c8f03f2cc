"""Stateless imaging operations: DICOM series → volume, NIfTI, N4, z-score, 128³ grids, masks, QC.

Modules (import them directly; nothing heavy is imported here):

``dicom_slices``, ``dicom_series``
    read DICOM files (classic and enhanced MR) into one volume, refusing bad geometry
``nifti``
    reproducible ``.nii.gz`` writing and reading
``selection``
    T1/T2 series selection rules
``intensity``, ``bias``
    foreground mask, z-score, N4 fitted on a shrunk image
``resample``
    the 128³ grid (whole FOV or tumour box) and physical-space resampling
``roi``, ``seg``, ``rtstruct``
    ROI collection (DICOM SEG or RTSTRUCT) → mask on the T1 grid
``measure``, ``qc``
    tumour measurements and the QC picture
"""

__all__: list[str] = []
