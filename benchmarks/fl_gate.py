"""Benchmark: how often the validation gate rejects honest sites, and how often it catches poisoned ones.

Real data and real updates: GBSG2 (686 patients, scikit-survival) split as in
``fl_gbsg2.py`` over three sites; a global model (linear clinical branch) is trained for a
few gated rounds first. Then, for each of ``--trials`` trials, the server draws a fresh
validation set of 12 or 40 patients from its held-out pool, every site trains one local
round from the global model on its own data (an *honest* update; with fresh seeds), and a
*poisoned* copy of one site's update is made (sign-flipped, and shuffled within each
tensor). Each update goes through two gates on the same validation set, with the same
merge weight 0.5 and ``max_drop`` 0.02:

* reference: the old fixed tolerance (rejected if the C-index drops by more than 0.02);
* paired: :class:`sarcoma_xnat.fl.paired.PairedValidation` (1000 resamples of the
  validation patients, rejected only if worse with one-sided 95 % confidence and by more
  than 0.02).

Printed: rejection rates per validation size, and the ratio of the honest-site
false-rejection rates (paired / reference) measured in the same process.

    python benchmarks/fl_gate.py [--trials 40] [--warmup 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fl_gbsg2 import arrays, load


def _gates(net, x, t, e, idx):
    from sarcoma_xnat.fl.gate import ValidationGate
    from sarcoma_xnat.fl.paired import PairedValidation
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.training import predict, set_weights

    val = arrays(x, t, e, idx)

    def risk(w):
        set_weights(net, w)
        return predict(net, val)[:, 0]

    fixed = ValidationGate(lambda w: harrell_c(val.os_time, val.os_event, risk(w)), 0.5, 0.02)
    paired = ValidationGate(PairedValidation(risk, val.os_time, val.os_event, seed=0), 0.5, 0.02)
    return fixed, paired


def run(trials: int, warmup: int, seed: int, sizes=(12, 40)) -> dict:
    """Return ``{size: {kind: [rejections by fixed, by paired, count]}}``."""
    from fl_gbsg2 import federated
    from sarcoma_xnat.models.training import TrainConfig, fit, get_weights, set_weights

    x, t, e, train, _ = load(seed)
    rng = np.random.default_rng(seed)
    pool = rng.permutation(train)
    held, rest = pool[:120], pool[120:]  # the server's validation pool: never trained on
    sites = np.array_split(rest, 3)
    net, _ = federated(x, t, e, rest, 3, warmup, 2, seed)  # a trained global model
    weights = get_weights(net)
    out = {n: {k: [0, 0, 0] for k in ("honest", "sign-flipped", "shuffled")} for n in sizes}
    for trial in range(trials):
        updates = []
        for s, idx in enumerate(sites):
            set_weights(net, weights)
            fit(net, arrays(x, t, e, idx), TrainConfig(epochs=2, batch_size=64, lr=3e-3, dm_weight=0.0,
                                                       seed=10_000 + trial * 10 + s))
            updates.append(get_weights(net))
        bad = updates[trial % 3]
        flipped = {k: -v if v.dtype.kind == "f" else v for k, v in bad.items()}
        shuffled = {k: rng.permutation(v.ravel()).reshape(v.shape) if v.dtype.kind == "f" else v
                    for k, v in bad.items()}
        for n in sizes:
            gates = _gates(net, x, t, e, rng.choice(held, n, replace=False))
            for kind, ups in (("honest", updates), ("sign-flipped", [flipped]), ("shuffled", [shuffled])):
                for g, gate in enumerate(gates):
                    _, rec = gate.step(trial, weights, [(f"s{i}", u, 1) for i, u in enumerate(ups)])
                    out[n][kind][g] += sum(not d.accepted for d in rec.decisions)
                out[n][kind][2] += len(ups)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=40, help="validation draws x site rounds")
    p.add_argument("--warmup", type=int, default=5, help="gated rounds that train the global model")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    started = time.time()
    res = run(args.trials, args.warmup, args.seed)
    print(f"GBSG2, 3 sites, global model after {args.warmup} gated rounds; {args.trials} trials "
          f"(fresh validation draw, one honest local round per site); merge 0.5, max_drop 0.02")
    print(f"{'val n':>5}  {'update':<13} {'n':>4}  {'fixed 0.02 (ref)':>16}  {'paired bootstrap':>16}")
    for n, kinds in res.items():
        for kind, (fixed, paired, count) in kinds.items():
            print(f"{n:>5}  {kind:<13} {count:>4}  {fixed / count:>16.3f}  {paired / count:>16.3f}")
    for n, kinds in res.items():
        fixed, paired, count = kinds["honest"]
        ratio = (paired / fixed) if fixed else float("nan")
        print(f"honest-site false rejection, {n} validation patients: paired {paired}/{count} vs "
              f"fixed {fixed}/{count}; ratio paired/fixed {ratio:.2f}   goal: paired <= 0.05")
    print(f"{time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
