"""Training-time augmentation of the image volumes: flips and in-plane quarter turns only."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_augment_volumes_moves_voxels_without_changing_them() -> None:
    from sarcoma_xnat.models.training import augment_volumes

    image = torch.arange(4 * 2 * 6 * 6 * 6, dtype=torch.float32).reshape(4, 2, 6, 6, 6)
    out = augment_volumes(image, torch.Generator().manual_seed(3))
    again = augment_volumes(image, torch.Generator().manual_seed(3))
    assert out.shape == image.shape and torch.equal(out, again)
    changed = 0
    for before, after in zip(image, out):
        np.testing.assert_array_equal(np.sort(before.flatten().numpy()), np.sort(after.flatten().numpy()))
        # both channels are moved the same way: channel 1 is channel 0 plus a constant
        np.testing.assert_array_equal((after[1] - after[0]).numpy(), np.full((6, 6, 6), 216.0))
        changed += int(not torch.equal(before, after))
    assert changed > 0
