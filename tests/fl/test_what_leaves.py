"""What leaves a site: a server that solves the batch-norm statistics for the cohort's means.

With one local step per round (the cohort fits in one batch), the first clinical
batch-norm layer's running mean after training is ``(1 - m) · received + m · (W x̄ + b)``
with the received ``W``, ``b`` known to the server, so the site's mean of every encoded
clinical feature ``x̄`` is a least-squares solve away. The default must not send it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from sarcoma_xnat.archive import LocalArchive  # noqa: E402
from sarcoma_xnat.fl.site import SiteConfig  # noqa: E402
from sarcoma_xnat.fl.trainer import parse_client_args  # noqa: E402


def _recover_means(received: dict, sent: dict, momentum: float = 0.1) -> np.ndarray | None:
    """The attack: cohort feature means from one update, or None when the statistics are absent."""
    key = "clinical.1.running_mean"
    if key not in sent:
        return None
    w = np.asarray(received["clinical.0.weight"], np.float64)
    b = np.asarray(received["clinical.0.bias"], np.float64)
    before = np.asarray(received[key], np.float64)
    batch_mean = (np.asarray(sent[key], np.float64) - (1 - momentum) * before) / momentum
    return np.linalg.lstsq(w, batch_mean - b, rcond=None)[0]


def _one_update(curated_site: LocalArchive, extra: list[str]):
    from sarcoma_xnat.fl.trainer import SiteTrainer
    from sarcoma_xnat.models.training import get_weights

    config = SiteConfig("site-1", str(curated_site.root), "SITEA")
    args = parse_client_args(["--mode", "clinical", "--local-epochs", "1", "--batch-size", "64",
                              *extra])
    trainer = SiteTrainer("site-1", args, config)
    received = get_weights(trainer.model)
    sent, steps = trainer.train(received)
    assert steps == 1  # the whole cohort in one batch
    return received, sent, trainer.data.clinical.mean(axis=0)


def test_the_attack_reads_the_cohort_means_when_statistics_are_sent(curated_site: LocalArchive) -> None:
    received, sent, truth = _one_update(curated_site, ["--no-fedbn"])
    means = _recover_means(received, sent)
    assert means is not None and means.shape == (19,)
    np.testing.assert_allclose(means, truth, atol=1e-3)  # all 19 features, to 3 decimals


def test_default_update_does_not_reveal_the_cohort_means(curated_site: LocalArchive) -> None:
    received, sent, truth = _one_update(curated_site, [])
    assert not [k for k in sent if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert _recover_means(received, sent) is None


def test_default_job_keeps_batch_norm_statistics_at_the_sites() -> None:
    pytest.importorskip("nvflare")
    from sarcoma_xnat.fl.controller import GatedFedAvg
    from sarcoma_xnat.fl.job import FLSettings

    assert FLSettings().fedbn is True and GatedFedAvg(network={}).fedbn is True
    assert parse_client_args([]).fedbn is True
    assert "--no-fedbn" in FLSettings(fedbn=False).client_args().split()
    assert "--no-fedbn" not in FLSettings().client_args().split()
