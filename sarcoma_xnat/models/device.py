"""Choose the torch device for training and inference: ``--device auto|cpu|cuda``."""

from __future__ import annotations

from typing import Any

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["DEVICE_CHOICES", "describe_device", "resolve_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(spec: str = "auto") -> Any:
    """Return the ``torch.device`` for ``spec``: ``auto`` is CUDA when a GPU is visible, else CPU.

    ``cuda`` without a usable GPU is refused with a message that says why (a CPU-only torch
    build, or no device visible), never silently run on the CPU.
    """
    import torch

    if spec not in DEVICE_CHOICES:
        raise ConfigurationError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {spec!r}")
    if spec == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if spec == "auto":
        return torch.device("cuda" if available else "cpu")
    if not available:
        if torch.version.cuda is None:
            why = f"this torch ({torch.__version__}) is a CPU-only build"
        else:
            why = (f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check the "
                   "driver (nvidia-smi) and CUDA_VISIBLE_DEVICES")
        raise ConfigurationError(f"--device cuda: no CUDA GPU is usable; {why}. "
                                 "Use --device cpu (or auto) with the tiny or small preset")
    return torch.device("cuda")


def describe_device(device: Any) -> str:
    """Return a one-line description of ``device`` (the GPU's name and memory for CUDA)."""
    import torch

    if device.type != "cuda":
        return f"cpu ({torch.get_num_threads()} torch threads)"
    props = torch.cuda.get_device_properties(device)
    return f"cuda: {props.name}, {props.total_memory / 2**30:.0f} GiB"
