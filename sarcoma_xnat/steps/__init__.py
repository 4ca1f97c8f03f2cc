"""Pipeline steps: plain functions from an input folder to an output folder."""
