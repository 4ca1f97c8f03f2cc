"""NVFlare client script: receive the global model, train on this site's data, send it back.

Shipped in the job's ``custom/`` folder and run by NVFlare's ``ClientAPIExecutor``.
All logic lives in :class:`sarcoma_xnat.fl.trainer.SiteTrainer`; the site's data
location comes from the site's own configuration, never from the job.
"""

from __future__ import annotations

import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel

from sarcoma_xnat.fl.trainer import SiteTrainer, parse_client_args


def main() -> None:
    """Run the receive → train → send loop until the server ends the job."""
    args = parse_client_args()
    flare.init()
    trainer = SiteTrainer(flare.get_site_name(), args)
    last = None
    while flare.is_running():
        received = flare.receive()
        if received is None:
            break
        if flare.is_submit_model():
            flare.send(FLModel(params=last or received.params))
            continue
        metrics = trainer.evaluate(received.params)
        if flare.is_evaluate():
            flare.send(FLModel(metrics=metrics))
            continue
        last, steps = trainer.train(received.params, received.current_round or 0)
        flare.send(FLModel(params=last, metrics=metrics, meta={"NUM_STEPS_CURRENT_ROUND": steps}))


if __name__ == "__main__":
    main()
