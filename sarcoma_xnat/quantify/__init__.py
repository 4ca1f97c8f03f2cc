"""Quantitative outputs of a preprocessed session: radiomics features, DICOM SEG and TID 1500 SR."""
