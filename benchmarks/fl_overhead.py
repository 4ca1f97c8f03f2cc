"""Benchmark: round overhead of the gated survival job against NVFlare's own hello-numpy job.

Both jobs run in NVFlare's simulator (``SimEnv``, 2 clients, one thread per client), in
this one process, one after the other, for each number of rounds in ``--rounds`` (default
1 and 3), ``--repeat`` times, on the same machine at the same time:

* **hello-numpy**: NVFlare's hello-world job rebuilt from its documented recipe API,
  ``nvflare.app_common.np.recipes.NumpyFedAvgRecipe`` (FedAvg, 3x3 model
  ``[[1..9]]``) with a Client API script that adds 1 to each weight, as NVFlare's
  ``examples/hello-world/hello-numpy`` does. Nothing is downloaded; the final model is
  checked (initial + rounds).
* **ours**: :func:`sarcoma_xnat.fl.runner.simulate`, i.e. ``sarcoma-xnat fl simulate``'s
  code path: the gated FedAvg controller (paired-bootstrap validation gate, 1000
  resamples), the outbound gate, gate-decision filters, FedBN, the final ``validate``
  task and the export of ``model.pt``; clinical-only network (``--mode clinical
  --preset tiny``, MLP 32), ``--local-epochs 2``, 2 sites of ``--subjects`` synthetic
  subjects each plus a server validation cohort of the same size. The cohorts are
  generated once (not timed, kept in ``--workdir``); a clinical-only job reads no images,
  so they are not preprocessed.

Wall time per run gives, for each job, the per-round cost ``(t(R_max) - t(R_min)) /
(R_max - R_min)`` and the fixed cost ``t(R_min) - R_min * per-round`` (start-up,
teardown; for ours also the final validate task and the model export, timed separately).
With runs of 15-40 s on a shared machine the wall difference is noisy, so the per-round
cost is also read from NVFlare's server log of the ``R_max`` run: *round (log)* is the
mean time from one "Round N started" to the next (or to the end of the last round),
rounds 1 on (round 0 waits for the clients to start), and *fixed* is the mean over both
runs of ``t(R) - R * round (log)``. *first task* / *site task*: the mean time from "sent
task" to "got result" of a site's first train task (it starts the client script:
imports, loading the site's data) and of its later ones (transport + client work).
*compute* is the job's own work per round, the same ``SiteTrainer.evaluate`` + ``train``
and ``ValidationGate.step`` timed here outside NVFlare after one warm-up round (the two
sites run in parallel in the simulator: the slower site plus the gate; 0 for
hello-numpy); *rest* = round (log) - compute, what NVFlare and the job's plumbing
(filters, outbound gate, checkpoints) cost per round.

    python benchmarks/fl_overhead.py [--rounds 1 3] [--repeat 2] [--subjects 16] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

#: the hello-numpy client (Client API): receive the global weights, add 1, send them back
HELLO_CLIENT = '''\
import numpy as np

import nvflare.client as flare
from nvflare.app_common.np.constants import NPConstants

flare.init()
while flare.is_running():
    received = flare.receive()
    if received is None:
        break
    weights = np.asarray(received.params[NPConstants.NUMPY_KEY], dtype=float)
    flare.send(flare.FLModel(params={NPConstants.NUMPY_KEY: weights + 1.0},
                             metrics={"weight_mean": float(weights.mean())},
                             current_round=received.current_round))
'''

HELLO_START = np.arange(1.0, 10.0).reshape(3, 3)


def hello_numpy(rounds: int, folder: Path) -> tuple[float, Path]:
    """Run NVFlare's hello-numpy job for ``rounds`` rounds; return wall seconds and the server log."""
    from nvflare.app_common.np.recipes import NumpyFedAvgRecipe
    from nvflare.recipe import SimEnv

    folder.mkdir(parents=True)
    script = folder / "hello_client.py"
    script.write_text(HELLO_CLIENT)
    started = time.perf_counter()
    recipe = NumpyFedAvgRecipe(name="hello-numpy", min_clients=2, num_rounds=rounds,
                               model=HELLO_START.tolist(), train_script=str(script))
    run = recipe.execute(SimEnv(num_clients=2, workspace_root=str(folder / "sim")))
    result = Path(run.get_result())
    wall = time.perf_counter() - started
    final = np.load(next(result.rglob("server.npy")))
    if not np.allclose(final, HELLO_START + rounds):
        raise RuntimeError(f"hello-numpy ended with {final.tolist()}, not initial + {rounds}")
    return wall, result / "server" / "log.txt"


def make_sites(root: Path, subjects: int):
    """Generate (or reuse) two site cohorts and a server validation cohort; return their configs."""
    from sarcoma_xnat.archive.local import LocalArchive
    from sarcoma_xnat.archive.refs import ObjectRef
    from sarcoma_xnat.fl.site import SERVER_SITE, SiteConfig
    from sarcoma_xnat.synthetic import generate_cohort

    configs = []
    for i, name in enumerate(["site-1", "site-2", SERVER_SITE]):
        project = f"SITE{i + 1}" if name != SERVER_SITE else "VALIDATION"
        archive = LocalArchive(root / name)
        if not archive.exists(ObjectRef(project)) or \
                len(archive.children(ObjectRef(project), "subject")) < subjects:
            generate_cohort(archive, project=project, n_subjects=subjects, seed=100 + i, preset="small")
        configs.append(SiteConfig(name, str(root / name), project))
    return configs[:-1], configs[-1]


def settings(rounds: int):
    """Return the clinical-only tiny configuration of ``fl simulate`` with ``rounds`` rounds."""
    from sarcoma_xnat.fl.job import FLSettings

    return FLSettings(num_rounds=rounds, mode="clinical", preset="tiny", clinical_hidden=32,
                      local_epochs=2, lr=3e-3)


def ours(rounds: int, sites, server, folder: Path) -> tuple[float, float, Path]:
    """Run the gated job; return wall seconds, seconds of the model export and the server log."""
    from sarcoma_xnat.fl import runner

    export, spent = runner._export, []

    def timed_export(*args, **kwargs):
        started = time.perf_counter()
        try:
            return export(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    runner._export = timed_export
    try:
        started = time.perf_counter()
        result = runner.simulate(settings(rounds), sites, server, folder)
        wall = time.perf_counter() - started
    finally:
        runner._export = export
    if len(result.gate_log) != rounds or result.checkpoint is None:
        raise RuntimeError(f"the gated job logged {len(result.gate_log)} rounds, not {rounds}")
    return wall, sum(spent), result.server_log


def compute(sites, server, rounds: int) -> dict[str, float]:
    """Time the job's own work outside NVFlare: each site's evaluate + train, and the gate."""
    from sarcoma_xnat.fl.controller import GatedFedAvg
    from sarcoma_xnat.fl.gate import ValidationGate
    from sarcoma_xnat.fl.runner import _site_file
    from sarcoma_xnat.fl.site import ENV_CONFIG
    from sarcoma_xnat.fl.trainer import SiteTrainer, parse_client_args
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet
    from sarcoma_xnat.models.training import get_weights

    s = settings(rounds)
    with tempfile.TemporaryDirectory(prefix="fl-overhead-") as tmp:
        os.environ[ENV_CONFIG] = str(_site_file(Path(tmp), sites, server))
        args = parse_client_args(s.client_args().split())
        trainers = [SiteTrainer(site.site, args) for site in sites]
        controller = GatedFedAvg(network=s.network_args(), num_clients=len(sites), num_rounds=rounds,
                                 gate_confidence=s.gate_confidence, gate_boot=s.gate_boot)
        controller.info = lambda *a, **k: None  # no NVFlare engine here
        gate = ValidationGate(controller._scorer(), s.merge_weight, s.max_drop)
        weights = get_weights(MultimodalSurvivalNet(**s.network_args()))
        site_times, gate_times = [], []
        for round_ in range(rounds + 1):  # round 0: warm-up (first calls), not timed
            updates, per_site = [], []
            for trainer in trainers:
                started = time.perf_counter()
                trainer.evaluate(weights)
                params, steps = trainer.train(weights, round_)
                per_site.append(time.perf_counter() - started)
                updates.append((trainer.site, {**weights, **params}, float(steps)))
            started = time.perf_counter()
            weights, _ = gate.step(round_, weights, updates)
            if round_:
                gate_times.append(time.perf_counter() - started)
                site_times.append(per_site)
    return {"site_max": statistics.mean(max(t) for t in site_times),
            "site_mean": statistics.mean(statistics.mean(t) for t in site_times),
            "gate": statistics.mean(gate_times)}


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_SENT = re.compile(r"peer=([\w-]+),.*task_name=train, task_id=([\w-]+)\] - sent task")
_GOT = re.compile(r"got result from client ([\w-]+) for task: name=train, id=([\w-]+)")


def task_turnaround(server_log: Path) -> tuple[float, float]:
    """Return the mean seconds from "sent task" to "got result" of train tasks: first, later ones.

    A site's first task includes starting its client script (imports, loading the site's
    data), which belongs to the fixed cost; the later ones are per round.
    """
    sent, first, later, seen = {}, [], [], set()
    for line in server_log.read_text(errors="replace").splitlines():
        stamp = _STAMP.match(line)
        if not stamp:
            continue
        when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if m := _SENT.search(line):
            sent[m.group(2)] = when
        elif (m := _GOT.search(line)) and m.group(2) in sent:
            (later if m.group(1) in seen else first).append(when - sent.pop(m.group(2)))
            seen.add(m.group(1))
    return tuple(statistics.mean(x) if x else float("nan") for x in (first, later))


_ROUND = re.compile(r"Round (\d+) started\.")
_END = re.compile(r"Finished FedAvg\.|Sending task validate")


def round_time(server_log: Path) -> float:
    """Return the mean seconds of rounds 1.. in a server log (round start to the next, or the end).

    Round 0 is left out: it waits for the clients to start (their first task).
    """
    starts, end, when = [], None, None
    for line in server_log.read_text(errors="replace").splitlines():
        if stamp := _STAMP.match(line):
            when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if when is None:
            continue
        if _ROUND.search(line):
            starts.append(when)
        elif end is None and starts and _END.search(line):
            end = when
    if end is not None:
        starts.append(end)
    spans = [b - a for a, b in zip(starts[1:], starts[2:])]
    return statistics.mean(spans) if spans else float("nan")


def split(walls: dict[int, float]) -> tuple[float, float]:
    """Return (per-round, fixed) seconds from the wall times of the shortest and longest run."""
    lo, hi = min(walls), max(walls)
    per_round = (walls[hi] - walls[lo]) / (hi - lo)
    return per_round, walls[lo] - lo * per_round


def measure(args: argparse.Namespace, work: Path, sites, server, rep: int) -> dict:
    """Run both jobs for each round count once (order alternating by repeat); return the timings."""
    walls: dict[str, dict[int, float]] = {"hello": {}, "ours": {}}
    turn, first, per_round, exports = {}, {}, {}, []
    for rounds in args.rounds:
        for job in ("hello", "ours") if rep % 2 == 0 else ("ours", "hello"):
            folder = work / "runs" / f"{job}-r{rounds}-{rep}"
            shutil.rmtree(folder, ignore_errors=True)
            if job == "hello":
                wall, log_file = hello_numpy(rounds, folder)
            else:
                wall, spent, log_file = ours(rounds, sites, server, folder)
                exports.append(spent)
            walls[job][rounds] = wall
            if rounds == max(args.rounds):
                first[job], turn[job] = task_turnaround(log_file)
                per_round[job] = round_time(log_file)
            print(f"repeat {rep + 1}: {job} R={rounds}: {wall:.1f} s "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
    work_time = compute(sites, server, max(args.rounds))
    return {"walls": walls, "turn": turn, "first": first, "round": per_round,
            "export": statistics.mean(exports), "compute": work_time["site_max"] + work_time["gate"], "detail": work_time,
            "load": os.getloadavg()[0]}


def _median(runs: list[dict]) -> dict:
    """Return the per-field median of several :func:`measure` results."""
    med = statistics.median
    return {"walls": {j: {r: med(x["walls"][j][r] for x in runs) for r in runs[0]["walls"][j]}
                      for j in ("hello", "ours")},
            "turn": {j: med(x["turn"][j] for x in runs) for j in ("hello", "ours")},
            "round": {j: med(x["round"][j] for x in runs) for j in ("hello", "ours")},
            "first": {j: med(x["first"][j] for x in runs) for j in ("hello", "ours")},
            "compute": med(x["compute"] for x in runs)}


def table(runs: list[dict], lo: int, hi: int) -> None:
    """Print the markdown table: per repeat, then the medians over the repeats."""
    print(f"| run | job | t(R={lo}) s | t(R={hi}) s | per round (wall) s | round (log) s "
          f"| fixed s | first task s | site task s | compute/round s | rest/round s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    labelled = [(str(i), x) for i, x in enumerate(runs, 1)]
    if len(runs) > 1:
        labelled.append(("median", _median(runs)))
    jobs = ("hello", "ours")
    for label, x in labelled:
        walls = x["walls"]
        comp = {"hello": 0.0, "ours": x["compute"]}
        per = {j: split(walls[j])[0] for j in jobs}
        fixed = {j: statistics.mean(t - r * x["round"][j] for r, t in walls[j].items()) for j in jobs}
        rest = {j: x["round"][j] - comp[j] for j in jobs}
        for job, name in zip(jobs, ("NVFlare hello-numpy", "sarcoma-xnat gated")):
            print(f"| {label} | {name} | {walls[job][lo]:.1f} | {walls[job][hi]:.1f} | {per[job]:.2f} "
                  f"| {x['round'][job]:.2f} | {fixed[job]:.1f} | {x['first'][job]:.2f} "
                  f"| {x['turn'][job]:.2f} | {comp[job]:.2f} | {rest[job]:.2f} |")
        r = {k: x[k]["ours"] / x[k]["hello"] for k in ("round", "turn", "first")}
        print(f"| {label} | **ours / NVFlare** | {walls['ours'][lo] / walls['hello'][lo]:.2f} "
              f"| {walls['ours'][hi] / walls['hello'][hi]:.2f} | {per['ours'] / per['hello']:.2f} "
              f"| {r['round']:.2f} | {fixed['ours'] / fixed['hello']:.2f} | {r['first']:.2f} "
              f"| {r['turn']:.2f} | | {rest['ours'] / rest['hello']:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, nargs=2, default=[1, 3], metavar=("R1", "R2"))
    p.add_argument("--repeat", type=int, default=2, help="runs of each job and round count")
    p.add_argument("--subjects", type=int, default=16, help="synthetic subjects per site")
    p.add_argument("--workdir", type=Path, default=None, help="kept; cohorts in it are reused")
    args = p.parse_args()
    args.rounds = sorted(args.rounds)
    if args.rounds[0] == args.rounds[1] or args.rounds[0] < 1:
        p.error("--rounds needs two different numbers of rounds, both at least 1")
    logging.basicConfig(level=logging.WARNING)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarcoma-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sites, server = make_sites(work / "cohorts", args.subjects)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs = [measure(args, work, sites, server, rep) for rep in range(args.repeat)]
    lo, hi = args.rounds
    print(f"\n2 clients, NVFlare simulator, {args.subjects} subjects per site, {os.cpu_count()} "
          f"cores, load average {load} before; per round (wall) = (t(R={hi}) - t(R={lo})) / "
          f"{hi - lo}; the other columns: see the module docstring\n")
    table(runs, lo, hi)
    for i, x in enumerate(runs, 1):
        d = x["detail"]
        print(f"\nrun {i}: ours' compute per round, timed outside NVFlare: site evaluate + train "
              f"{d['site_mean']:.2f} s mean, {d['site_max']:.2f} s the slower site; gate step "
              f"{d['gate']:.2f} s; model export {x['export']:.2f} s per run (in fixed); "
              f"load average after {x['load']:.2f}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
