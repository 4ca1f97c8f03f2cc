"""``model.pt`` holds aggregates only (no subject's outcome, no session label) and has a model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.cli import main

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("matplotlib")


def _cells(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Count ``times`` in each cell (g[k-1], g[k]] of ``grid``."""
    lower = np.r_[-np.inf, grid[:-1]]
    return np.array([((times > lo) & (times <= hi)).sum() for lo, hi in zip(lower, grid)])


def _leaves(obj: Any, out: dict[str, list]) -> dict[str, list]:
    """Collect the strings, floats and lists nested in ``obj``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            out["str"].append(str(k))
            _leaves(v, out)
    elif isinstance(obj, (list, tuple)):
        out["list"].append(list(obj))
        for v in obj:
            _leaves(v, out)
    elif isinstance(obj, str):
        out["str"].append(obj)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out["num"].append(float(obj))
    return out


LABELS = [f"SITEA{i:03d}" for i in range(1, 49)]


def _leaks(meta: dict, archive: LocalArchive, n_train: int) -> list[str]:
    """Return what in ``meta`` is a training subject's data: labels, exact times, per-subject lists."""
    found = _leaves(meta, {"str": [], "num": [], "list": []})
    settings = _leaves({k: meta.get(k) for k in ("train_config", "aggregation")},
                       {"str": [], "num": [], "list": []})
    text = " ".join(found["str"])
    leaks = [f"label {lab}" for lab in LABELS if lab in text]
    times = {float(archive.get(ObjectRef("SITEA", lab)).fields[f"{e}_months"])
             for lab in LABELS for e in ("os", "dm")}
    numbers = set(found["num"]) - set(settings["num"])  # settings are not outcomes
    # grid points (multiples of 3 months) may coincide with a subject's time by chance
    leaks += [f"time {t}" for t in times if t in numbers and t % 3.0]
    leaks += [f"list of {len(v)}" for v in found["list"] if len(v) >= n_train]
    return leaks


@pytest.fixture(scope="module")
def trained(curated_site: LocalArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("private") / "train"
    assert main(["model", "train", "--archive", str(curated_site.root), "--project", "SITEA",
                 "--out", str(out), "--image-size", "32", "--epochs", "2", "--ensemble", "1",
                 "--bootstrap", "10"]) == 0
    return out


def test_model_file_holds_no_subject_outcome_or_label(trained: Path, curated_site: LocalArchive) -> None:
    import torch

    payload = torch.load(trained / "model.pt", map_location="cpu", weights_only=True)
    assert payload["format"] == "sarcoma-xnat-survival/2"
    meta = payload["meta"]
    n_train = meta["n_train"]
    assert n_train == 37  # 48 curated + BROKEN2 (tumour grade imputed), 12 held out
    assert _leaks(meta, curated_site, n_train) == []
    assert "train_outcomes" not in meta and "train_sessions" not in meta
    # every baseline step holds at least 5 training events (counted from the subjects' fields)
    from sarcoma_xnat.fl.workflow import split_indices

    fields = [curated_site.get(ObjectRef("SITEA", lab)).fields for lab in LABELS]
    os_t = np.array([float(f["os_months"]) for f in fields])
    os_e = np.array([int(f["os_event"]) for f in fields])
    train, _ = split_indices(os_e, 0.25, 0)
    grid = np.asarray(meta["baseline"]["os"]["times"])
    assert grid.size >= 2 and np.all(grid % 3.0 == 0)
    events = os_t[train][os_e[train] == 1]
    cells = _cells(events, grid)
    assert cells.min() >= 5 and cells.sum() == events.size


def test_old_format_file_leaks_and_is_refused_on_write(curated_site: LocalArchive,
                                                       tmp_path: Path) -> None:
    """A format-1 file (as model train wrote it) exposes every outcome and label; save refuses it."""
    import torch

    from sarcoma_xnat.errors import ModelError
    from sarcoma_xnat.fl.checkpoint import load_checkpoint, save_checkpoint
    from sarcoma_xnat.fl.workflow import TrainedModel, evaluate_model
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.models.networks import build_network

    cohort = load_cohort(curated_site, "SITEA", image_size=None)
    model = build_network("tiny", mode="clinical")
    old_meta = {"mode": "clinical", "image_size": 32, "n_train": len(cohort.data),
                "train_sessions": list(cohort.sessions),
                "train_outcomes": {e: {"time": cohort.data.time(e).tolist(),
                                       "event": cohort.data.event(e).tolist()} for e in ("os", "dm")}}
    assert len(_leaks(old_meta, curated_site, len(cohort.data))) > 48
    with pytest.raises(ModelError, match="per-subject data"):
        save_checkpoint(tmp_path / "new.pt", model, old_meta)
    assert not (tmp_path / "new.pt").exists()
    # an existing format-1 file still loads and evaluates (from its stored outcomes)
    from sarcoma_xnat.fl.workflow import fit_baselines

    base = fit_baselines(model, cohort.data)
    legacy = {**old_meta, "baseline": base["baseline"], "risk_cuts": base["risk_cuts"]}
    torch.save({"format": "sarcoma-xnat-survival/1", "network": model.config(),
                "state_dict": model.state_dict(), "meta": legacy}, tmp_path / "old.pt")
    loaded, meta = load_checkpoint(tmp_path / "old.pt")
    report = evaluate_model(TrainedModel(loaded, meta), cohort.data, n_boot=5)
    assert 0.0 <= report["endpoints"]["os"]["uno_c"]["value"] <= 1.0


def test_model_card_beside_the_model(trained: Path, curated_site: LocalArchive) -> None:
    from sarcoma_xnat.steps.base import file_sha256

    card = json.loads((trained / "model_card.json").read_text())
    assert card["model"]["sha256"] == file_sha256(trained / "model.pt")
    assert card["model"]["format"] == "sarcoma-xnat-survival/2"
    assert "not for patients" in card["warning"] and card["intended_use"]
    assert card["training"]["epochs"] == 2 and card["software"]["torch"]
    used = [ObjectRef("SITEA", lab) for lab in LABELS] + [ObjectRef("SITEA", "BROKEN2")]
    events = sum(int(curated_site.get(ref).fields["os_event"]) for ref in used)
    data = card["data"]
    assert data["train"]["subjects"] + data["test"]["subjects"] == 49  # BROKEN2 imputed
    assert data["train"]["os"]["events"] + data["test"]["os"]["events"] == events
    assert data["skipped_sessions"] == 2
    metrics = json.loads((trained / "metrics.json").read_text())
    assert card["metrics"]["os"]["harrell_c"] == metrics["endpoints"]["os"]["harrell_c"]
    md = (trained / "model_card.md").read_text()
    assert "Synthetic phantom model, not for patients" in md and "Harrell C" in md
    everything = json.dumps(card) + md
    assert not [lab for lab in LABELS if lab in everything]
