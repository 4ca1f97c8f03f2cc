"""Benchmark: the clinical branch trained federated over 3 sites on GBSG2 vs a centralized Cox model.

GBSG2 (686 breast-cancer patients, bundled in scikit-survival, real data) is split once
into a held-out test set (25%, stratified by event) and a training pool; the pool is
divided at random over three sites, and the server keeps 10% of it as its own
validation data for the gate. Federated: the network's clinical branch, FedAvg through
:class:`sarcoma_xnat.fl.gate.ValidationGate` (merge weight 0.5), rounds run in-process
(same code as the NVFlare job, without the transport). Reference: scikit-survival's
``CoxPHSurvivalAnalysis`` on the whole training pool. Same test split for both.

    python benchmarks/fl_gbsg2.py [--seeds 3] [--rounds 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def load(seed: int):
    """Return (x_train, y_train, x_test, y_test) as encoded arrays."""
    from sksurv.datasets import load_gbsg2
    from sksurv.preprocessing import OneHotEncoder

    from sarcoma_xnat.fl.workflow import split_indices

    x, y = load_gbsg2()
    x = x.copy()
    for col in ("pnodes", "progrec", "estrec"):
        x[col] = np.log1p(x[col].astype(float))
    x["tgrade"] = x["tgrade"].astype(str)
    xe = OneHotEncoder().fit_transform(x).to_numpy(float)
    time_, event = y["time"].astype(float), y["cens"].astype(int)
    train, test = split_indices(event, 0.25, seed)
    mu, sd = xe[train].mean(0), xe[train].std(0) + 1e-8
    xe = ((xe - mu) / sd).astype(np.float32)
    return xe, time_, event, train, test


def arrays(x, t, e, idx):
    from sarcoma_xnat.models.survival import SurvivalArrays

    return SurvivalArrays(x[idx], None, t[idx], e[idx], t[idx], e[idx])


def federated(x, t, e, train, n_sites, rounds, epochs, seed):
    """Return the final global model's test-ready network and the gate log."""
    import torch

    from sarcoma_xnat.fl.gate import ValidationGate
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.training import TrainConfig, fit, get_weights, predict, set_weights

    rng = np.random.default_rng(seed)
    pool = rng.permutation(train)
    n_val = len(pool) // 10
    server, sites = pool[:n_val], np.array_split(pool[n_val:], n_sites)
    torch.manual_seed(seed)
    net = build_network(mode="clinical", n_clinical=x.shape[1], clinical_hidden=16, dropout=0.1)
    val = arrays(x, t, e, server)

    def score(w):
        set_weights(net, w)
        return harrell_c(val.os_time, val.os_event, predict(net, val)[:, 0])

    gate = ValidationGate(score, merge_weight=0.5, max_drop=0.02)
    weights = get_weights(net)
    log = []
    for r in range(rounds):
        updates = []
        for s, idx in enumerate(sites):
            set_weights(net, weights)
            cfg = TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, dm_weight=0.0,
                              seed=seed * 1000 + r * 10 + s)
            hist = fit(net, arrays(x, t, e, idx), cfg)
            updates.append((f"site-{s + 1}", get_weights(net), hist["steps"]))
        weights, record = gate.step(r, weights, updates)
        log.append(record)
    set_weights(net, weights)
    return net, log


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--local-epochs", type=int, default=3)
    p.add_argument("--sites", type=int, default=3)
    args = p.parse_args()

    import torch
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.training import predict

    torch.set_num_threads(1)
    rows = []
    for seed in range(args.seeds):
        x, t, e, train, test = load(seed)
        y = np.array(list(zip(e.astype(bool), t)), dtype=[("e", bool), ("t", float)])
        t0 = time.time()
        cox = CoxPHSurvivalAnalysis(alpha=1e-4).fit(x[train], y[train])
        c_cox = harrell_c(t[test], e[test], cox.predict(x[test]))
        t_cox = time.time() - t0
        t0 = time.time()
        net, log = federated(x, t, e, train, args.sites, args.rounds, args.local_epochs, seed)
        c_fed = harrell_c(t[test], e[test], predict(net, arrays(x, t, e, test))[:, 0])
        t_fed = time.time() - t0
        rejected = sum(not d.accepted for r in log for d in r.decisions)
        rows.append((seed, len(train), len(test), c_cox, c_fed, rejected, t_cox, t_fed))
    print(f"GBSG2, {args.sites} sites, {args.rounds} rounds x {args.local_epochs} local epochs, "
          f"test = 25% held out (Harrell C)")
    print(f"{'seed':>4} {'train':>6} {'test':>5} {'Cox (central)':>14} {'FL clinical':>12} "
          f"{'diff':>7} {'rejected':>9} {'Cox s':>6} {'FL s':>6}")
    for seed, ntr, nte, cc, cf, rej, tc, tf in rows:
        print(f"{seed:>4} {ntr:>6} {nte:>5} {cc:>14.3f} {cf:>12.3f} {cf - cc:>+7.3f} {rej:>9} "
              f"{tc:>6.2f} {tf:>6.1f}")
    cc, cf = np.mean([r[3] for r in rows]), np.mean([r[4] for r in rows])
    print(f"mean{'':>12} {cc:>14.3f} {cf:>12.3f} {cf - cc:>+7.3f}   ratio FL/Cox {cf / cc:.3f}   "
          f"goal: FL >= Cox - 0.01 -> {'met' if cf >= cc - 0.01 else 'NOT met'}")


if __name__ == "__main__":
    main()
