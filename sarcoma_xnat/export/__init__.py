"""FAIR export of a project's curated cohort (images, masks, tables, JSON-LD description)."""
