"""Federated training from an initial model, and resumed after the server is killed mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sarcoma_xnat.errors import ModelError

pytest.importorskip("torch")
pytest.importorskip("nvflare")

from fl_fixtures import make_site  # noqa: E402

CLI = [sys.executable, "-m", "sarcoma_xnat.cli"]
ARGS = ["--mode", "clinical", "--local-epochs", "1", "--no-fedbn", "--max-drop", "0.5"]


def _network(hidden: int = 32) -> dict:
    from sarcoma_xnat.models.networks import build_network

    return build_network("tiny", mode="clinical", clinical_hidden=hidden).config()


def _trained_model(tmp_path: Path, ensemble: int = 1) -> Path:
    from sarcoma_xnat.fl.checkpoint import save_checkpoint
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.workflow import train_model
    from sarcoma_xnat.models.training import TrainConfig

    archive = make_site(tmp_path / f"init{ensemble}", "INIT", 20, seed=5)
    trained = train_model(load_cohort(archive, "INIT", image_size=None).data, "tiny", "clinical",
                          TrainConfig(epochs=2, batch_size=10), ensemble=ensemble)
    return save_checkpoint(tmp_path / f"model{ensemble}.pt", trained.model, trained.meta)


def test_initial_model_must_fit_the_job_network(tmp_path: Path) -> None:
    import torch

    from sarcoma_xnat.fl.resume import initial_model_file

    model = _trained_model(tmp_path)
    written = initial_model_file(model, _network(), tmp_path / "out")
    state = torch.load(written, weights_only=True)["model"]
    original = torch.load(model, weights_only=True)["state_dict"]
    assert set(state) == set(original)
    assert all(torch.equal(state[k], original[k]) for k in state)
    with pytest.raises(ModelError, match="does not fit the job's network"):
        initial_model_file(model, _network(hidden=0), tmp_path / "out2")
    with pytest.raises(ModelError, match="ensemble"):
        initial_model_file(_trained_model(tmp_path, ensemble=2), _network(), tmp_path / "out3")


def _sites(tmp_path: Path) -> list[str]:
    make_site(tmp_path / "a", "SITEA", 20, seed=11)
    make_site(tmp_path / "b", "SITEB", 20, seed=12)
    make_site(tmp_path / "v", "VALID", 20, seed=13)
    return ["--site", f"site-1={tmp_path / 'a'}:SITEA", "--site", f"site-2={tmp_path / 'b'}:SITEB",
            "--server-data", f"{tmp_path / 'v'}:VALID"]


def _scores(weights: dict, tmp_path: Path) -> tuple[float, float]:
    """The server's validation C-index and site-1's C-index of a clinical network with ``weights``."""
    from sarcoma_xnat.archive import LocalArchive
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet
    from sarcoma_xnat.models.training import predict, set_weights

    model = MultimodalSurvivalNet(**_network())
    set_weights(model, weights)
    out = []
    for folder, project in (("v", "VALID"), ("a", "SITEA")):
        data = load_cohort(LocalArchive(tmp_path / folder), project, image_size=None).data
        out.append(harrell_c(data.os_time, data.os_event, predict(model, data)[:, 0]))
    return out[0], out[1]


def _gate_log(ws: Path) -> list[dict]:
    return json.loads(sorted(ws.rglob("gate_log.json"))[-1].read_text())


@pytest.mark.slow
def test_training_starts_from_the_initial_model(tmp_path: Path) -> None:
    import torch

    sites = _sites(tmp_path)
    model = _trained_model(tmp_path)
    ws = tmp_path / "ws"
    subprocess.run([*CLI, "fl", "simulate", *sites, *ARGS, "--rounds", "1", "--output", str(ws),
                    "--initial-model", str(model)], check=True, capture_output=True, timeout=110)
    record = _gate_log(ws)[0]
    validation, site1 = _scores(torch.load(model, weights_only=True)["state_dict"], tmp_path)
    assert record["baseline"] == pytest.approx(validation, abs=1e-9)  # the global model of round 0
    # what site-1 received in round 0 is that model (its C-index on site-1's data)
    assert record["site_metrics_on_received_model"]["site-1"]["c_index"] == pytest.approx(site1, abs=1e-6)


def _kill_run(ws: Path) -> None:
    """SIGKILL every process of this test's run: each names ``ws`` on its command line.

    NVFlare's simulator runs in its own session and starts its clients with ``setsid``,
    so the process groups are found from the processes, by their (unique) workspace path.
    """
    groups = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(ws).encode() in cmdline.read_bytes():
                groups.add(os.getpgid(int(cmdline.parent.name)))
        except (OSError, ProcessLookupError):
            continue
    for group in groups - {os.getpgid(0)}:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_a_killed_server_resumes_at_the_next_round(tmp_path: Path) -> None:
    import torch

    sites = _sites(tmp_path)
    ws = tmp_path / "ws"
    cmd = [*CLI, "fl", "simulate", *sites, *ARGS, "--rounds", "3", "--output", str(ws)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    state = None
    deadline = time.time() + 90
    try:
        while time.time() < deadline and proc.poll() is None:
            found = sorted(ws.glob("round-checkpoints/*/state.json"))
            if found:
                state = found[0]
                break
            time.sleep(0.1)
    finally:
        _kill_run(ws)  # the whole simulator (server and clients) dies, and the CLI with it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert state is not None, "no round checkpoint appeared"
    saved = tmp_path / "at-kill"
    time.sleep(3)  # nothing may write to the checkpoint any more
    shutil.copytree(state.parent, saved)
    done = json.loads((saved / "state.json").read_text())
    assert done["last_round"] < 2 and not (ws / "model.pt").exists()  # killed mid-run

    run = subprocess.run(cmd, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stderr[-2000:]
    log = _gate_log(ws)
    assert [r["round"] for r in log] == [0, 1, 2]
    nxt = done["last_round"] + 1
    assert json.loads(json.dumps(log[:nxt], default=float)) == done["records"]  # kept, not rerun
    server_log = next(ws.rglob("server/log.txt")).read_text()
    assert f"continuing at round {nxt}" in server_log
    # the restarted server went on from the checkpointed model, and both sites, rejoining, got it
    validation, site1 = _scores(torch.load(saved / "global_model.pt", weights_only=True), tmp_path)
    assert log[nxt]["baseline"] == pytest.approx(validation, abs=1e-9)
    assert log[nxt]["site_metrics_on_received_model"]["site-1"]["c_index"] == pytest.approx(site1, abs=1e-6)
    assert (ws / "model.pt").is_file()
