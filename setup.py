"""Build hook: ship the top-level ``xnat-commands/`` and ``containers/`` inside the wheel.

The repository keeps one copy of each command JSON and Dockerfile, at the top level
where XNAT administrators and image builders look for them. ``build_py`` copies
them into the built package as ``sarcoma_xnat/_suite/<folder>/`` (never into the
source tree), so an installed wheel finds them with
:func:`sarcoma_xnat.containers.command.project_root`. All metadata is in
``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: top-level folders shipped as package data, and where they go in the package
SUITE_FOLDERS = ("xnat-commands", "containers")
SUITE_PACKAGE_DIR = Path("sarcoma_xnat") / "_suite"


class BuildPyWithSuite(build_py):
    """``build_py`` that also copies :data:`SUITE_FOLDERS` into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install uses the checkout
            return
        here = Path(__file__).resolve().parent
        for folder in SUITE_FOLDERS:
            source = here / folder
            if not source.is_dir():  # building from an sdist that lacks them is an error
                raise SystemExit(f"cannot build sarcoma-xnat: {source} is missing")
            target = Path(self.build_lib) / SUITE_PACKAGE_DIR / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithSuite})
