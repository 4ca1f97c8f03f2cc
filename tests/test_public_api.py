"""Every module declares a sorted ``__all__`` whose names exist; importing does no heavy work."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import sarcoma_xnat

HEAVY = ("torch", "monai", "nvflare")


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(sarcoma_xnat.__path__, "sarcoma_xnat."):
        if info.name.split(".")[1] in {"models", "fl"} or info.name.endswith("__main__"):
            continue  # need the heavy extras; checked in their own tests
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert not [n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n])
                    and getattr(vars(module)[n], "__module__", None) == name], \
            f"{name} defines public functions or classes but no __all__"
        return
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which does not exist"


def test_import_and_help_touch_no_heavy_stack() -> None:
    code = ("import sys, sarcoma_xnat.cli as c\n"
            "c.build_parser()\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
