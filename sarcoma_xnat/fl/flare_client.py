"""NVFlare client script: receive the global model, train on this site's data, send it back.

Shipped in the job's ``custom/`` folder and run by NVFlare's ``ClientAPIExecutor``.
All logic lives in :class:`sarcoma_xnat.fl.trainer.SiteTrainer`; the site's data
location comes from the site's own configuration, never from the job. With
``--send-diff`` (differential privacy on) the training result is the difference to the
received model (``ParamsType.DIFF``), which the job's task-result filter clips and
noises before it leaves the site; otherwise the full weights (``ParamsType.FULL``).
With ``--fedbn`` nothing sent holds the site's batch-norm statistics. The result of the
final ``validate`` task also holds the site's training-data summary (rounded, suppressed
counts: :mod:`sarcoma_xnat.fl.site_summary`), which the outbound gate checks by name.
"""

from __future__ import annotations

import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from sarcoma_xnat.fl.trainer import SiteTrainer, parse_client_args


def main() -> None:
    """Run the receive → train → send loop until the server ends the job."""
    args = parse_client_args()
    flare.init()
    trainer = SiteTrainer(flare.get_site_name(), args)
    params_type = ParamsType.DIFF if args.send_diff else ParamsType.FULL
    while flare.is_running():
        received = flare.receive()
        if received is None:
            break
        if flare.is_submit_model():  # full weights: refused by the DP filter when DP is on
            flare.send(FLModel(params=trainer.shared(trainer.local_weights or received.params),
                               params_type=ParamsType.FULL))
            continue
        metrics = trainer.evaluate(received.params)
        if flare.is_evaluate():  # the final validation: with the site's rounded training-data counts
            flare.send(FLModel(metrics={**metrics, **trainer.summary()}))
            continue
        params, steps = trainer.train(received.params, received.current_round or 0)
        flare.send(FLModel(params=params, params_type=params_type, metrics=metrics,
                           meta={"NUM_STEPS_CURRENT_ROUND": steps}))


if __name__ == "__main__":
    main()
