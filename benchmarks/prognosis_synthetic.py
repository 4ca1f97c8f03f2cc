"""Benchmark: clinical-only vs image-only vs multimodal C-index on a synthetic cohort, vs the oracle.

A synthetic cohort (default 200 subjects) is generated and run through the real
``preprocess`` step (64³ tumour box, for CPU time); the OS hazard of the generator
depends on clinical variables and on the necrotic fraction, which only the images
show. The three network modes (tiny DenseNet on 32³ crops: the CPU configuration)
and a scikit-survival Cox model on the clinical variables are trained on the same
70% and tested on the same 30%. The oracle is the C-index of the generator's true
log-hazard on that test set. Goal: multimodal ≥ clinical-only + 0.03 and ≥ oracle − 0.05.

    python benchmarks/prognosis_synthetic.py --archive /tmp/synth200 [--subjects 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archive", type=Path, required=True, help="archive folder (reused if present)")
    p.add_argument("--subjects", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--preset", default="tiny")
    args = p.parse_args()

    import torch
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from sarcoma_xnat.archive import LocalArchive, ObjectRef
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.synthetic_sites import preprocess_project
    from sarcoma_xnat.fl.workflow import split_indices, train_model
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.training import TrainConfig, predict
    from sarcoma_xnat.synthetic import generate_cohort

    torch.set_num_threads(2)
    project = "BENCH"
    archive = LocalArchive(args.archive)
    t0 = time.time()
    if not archive.exists(ObjectRef(project)) or \
            len(archive.children(ObjectRef(project), "subject")) < args.subjects:
        generate_cohort(archive, project, args.subjects, seed=args.seed, preset="small")
    failed = preprocess_project(archive, project)
    t_data = time.time() - t0
    truth = json.loads((archive.root / "ground-truth" / f"{project}-truth.json").read_text())["subjects"]
    cohort = load_cohort(archive, project, image_size=args.image_size)
    data = cohort.data
    train, test = split_indices(data.os_event, 0.3, args.seed)
    test_data = data.subset(test)
    t, e = test_data.os_time, test_data.os_event
    oracle = harrell_c(t, e, np.array([truth[cohort.subjects[i]]["os_log_hazard"] for i in test]))

    rows = []
    y = np.array(list(zip(data.os_event.astype(bool), data.os_time)), dtype=[("e", bool), ("t", float)])
    t1 = time.time()
    cox = CoxPHSurvivalAnalysis(alpha=1e-2).fit(data.clinical[train], y[train])
    rows.append(("Cox, clinical (sksurv)", harrell_c(t, e, cox.predict(data.clinical[test])),
                 time.time() - t1))
    for mode in ("clinical", "image", "multimodal"):
        t1 = time.time()
        cfg = TrainConfig(epochs=args.epochs, batch_size=32, lr=2e-3, seed=args.seed, blend_every=5)
        trained = train_model(data.subset(train), args.preset, mode, cfg, args.image_size)
        c = harrell_c(t, e, predict(trained.model, test_data)[:, 0])
        rows.append((f"network, {mode}", c, time.time() - t1))
    print(f"synthetic cohort: {len(cohort.sessions)} curated sessions ({len(cohort.skipped)} skipped, "
          f"{len(failed)} preprocess failures), train {len(train)}, test {len(test)} "
          f"({int(e.sum())} OS events); data {t_data:.0f} s")
    print(f"image branch: DenseNet preset '{args.preset}', {args.image_size}^3 tumour crops, "
          f"{args.epochs} epochs, CPU")
    print(f"{'model':<26} {'OS C-index':>10} {'vs oracle':>10} {'train s':>8}")
    for name, c, secs in rows:
        print(f"{name:<26} {c:>10.3f} {c - oracle:>+10.3f} {secs:>8.0f}")
    print(f"{'oracle (true log-hazard)':<26} {oracle:>10.3f}")
    clin = dict((n, c) for n, c, _ in rows)["network, clinical"]
    mm = dict((n, c) for n, c, _ in rows)["network, multimodal"]
    gain, gap = mm - clin, oracle - mm
    print(f"multimodal - clinical = {gain:+.3f} (goal >= +0.03: {'met' if gain >= 0.03 else 'NOT met'}); "
          f"oracle - multimodal = {gap:.3f} (goal <= 0.05: {'met' if gap <= 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
