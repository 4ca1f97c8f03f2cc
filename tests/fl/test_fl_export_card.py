"""The exported model's card: metrics with intervals and plots, each labelled with the data they come from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fl_fixtures import make_site
from test_fl_export import _global_model_file

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.fl.site import SiteConfig

pytest.importorskip("torch")

VALIDATION = "server validation data (also used by the gate to accept updates: optimistic)"
HELD_OUT = "held-out test"
SETTINGS = {"fedbn": True, "preset": "tiny", "image_size": 32}
PLOTS = [(title, endpoint) for endpoint in ("overall survival", "distant metastasis")
         for title in ("Kaplan–Meier by predicted risk group", "Calibration")]


@pytest.fixture(scope="module")
def holdout(tmp_path_factory: pytest.TempPathFactory) -> LocalArchive:
    """A project that no site trained on and the gate never saw: 30 subjects."""
    return make_site(tmp_path_factory.mktemp("holdout"), "HOLDOUT", 30, seed=7)


def _export(curated_site: LocalArchive, tmp_path: Path, test: SiteConfig | None = None):
    from sarcoma_xnat.fl.export import export_global_model

    model_file, network, _, _ = _global_model_file(curated_site, tmp_path)
    server = SiteConfig("server", str(curated_site.root), "SITEA")
    out = export_global_model(model_file, network, SETTINGS, server, tmp_path / "out" / "model.pt",
                              test=test, n_boot=50)
    card = json.loads(out.with_name("model_card.json").read_text())
    return out, card, out.with_name("model_card.html").read_text()


def _figures(page: str) -> list[tuple[str, str, str]]:
    """(data-source, alt, caption) of every embedded plot."""
    return re.findall(r'<figure data-source="([^"]*)"><img alt="([^"]*)" '
                      r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"><figcaption>([^<]*)</figcaption>',
                      page)


def _assert_interval(c: dict) -> None:
    assert 0.0 <= c["ci_lower"] <= c["value"] <= c["ci_upper"] <= 1.0
    assert c["ci_upper"] - c["ci_lower"] > 0.0


def _c_index(model_pt: Path, archive: LocalArchive, project: str, endpoint: str) -> float:
    """Harrell's C of the exported model on ``project``, recomputed outside the export."""
    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.models.metrics import harrell_c
    from sarcoma_xnat.models.training import predict

    model, _ = load_checkpoint(model_pt)
    data = load_cohort(archive, project, image_size=None).data
    k = ("os", "dm").index(endpoint)
    return harrell_c(data.time(endpoint), data.event(endpoint), predict(model, data)[:, k])


def test_export_card_has_validation_metrics_and_plots_labelled_optimistic(
        curated_site: LocalArchive, tmp_path: Path) -> None:
    out, card, page = _export(curated_site, tmp_path)
    assert card["metrics_source"] == VALIDATION and card["plots_source"] == VALIDATION
    assert card["metrics"]["n"] == 50  # clinical: only BROKEN2 (no tumour grade) is skipped
    for endpoint in ("os", "dm"):
        for name in ("harrell_c", "uno_c"):
            _assert_interval(card["metrics"][endpoint][name])
        assert card["metrics"][endpoint]["harrell_c"]["value"] == pytest.approx(
            _c_index(out, curated_site, "SITEA", endpoint), abs=1e-9)
    validation = card["evaluations"]["server_validation"]
    assert validation["label"] == VALIDATION and validation["project"] == "SITEA"
    assert validation["metrics"]["os"] == card["metrics"]["os"]
    assert "held_out_test" not in card["evaluations"]
    figures = _figures(page)
    assert sorted((alt for _, alt, _ in figures)) == sorted(f"{t}, {e}" for t, e in PLOTS)
    for source, _, caption in figures:
        assert source == VALIDATION and caption.endswith(f"({VALIDATION})")
    assert f"Computed on: <strong>{VALIDATION}</strong>" in page
    assert HELD_OUT not in page
    assert "Computed on: " + VALIDATION in out.with_name("model_card.md").read_text()


def test_export_with_test_data_takes_metrics_and_plots_from_the_held_out_project(
        curated_site: LocalArchive, holdout: LocalArchive, tmp_path: Path) -> None:
    test = SiteConfig("test", str(holdout.root), "HOLDOUT")
    out, card, page = _export(curated_site, tmp_path, test)
    assert card["metrics_source"] == HELD_OUT and card["plots_source"] == HELD_OUT
    assert card["metrics"]["n"] == 30
    assert card["data"]["held_out_test"]["project"] == "HOLDOUT"
    assert card["data"]["held_out_test"]["subjects"] == 30
    for endpoint in ("os", "dm"):
        _assert_interval(card["metrics"][endpoint]["harrell_c"])
        assert card["metrics"][endpoint]["harrell_c"]["value"] == pytest.approx(
            _c_index(out, holdout, "HOLDOUT", endpoint), abs=1e-9)
    held = card["evaluations"]["held_out_test"]
    assert held["label"] == HELD_OUT and held["project"] == "HOLDOUT"
    assert held["metrics"]["os"] == card["metrics"]["os"]
    validation = card["evaluations"]["server_validation"]  # kept beside, with its own label
    assert validation["label"] == VALIDATION and validation["metrics"]["n"] == 50
    _assert_interval(validation["metrics"]["os"]["harrell_c"])
    assert validation["metrics"]["os"] != held["metrics"]["os"]
    figures = _figures(page)
    assert len(figures) == 4
    for source, _, caption in figures:
        assert source == HELD_OUT and caption.endswith(f"({HELD_OUT})")
    assert VALIDATION in page  # the validation row of the evaluations table
    report = json.loads(out.with_name("metrics.json").read_text())  # the plots' full report
    assert report["n"] == 30


def test_export_refuses_the_gates_own_data_as_test_data(curated_site: LocalArchive,
                                                         tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="the gate saw it"):
        _export(curated_site, tmp_path, SiteConfig("test", str(curated_site.root), "SITEA"))
    assert not (tmp_path / "out" / "model.pt").exists()


def test_fl_export_and_simulate_take_test_data() -> None:
    from sarcoma_xnat.cli import build_parser

    parser = build_parser()
    export = parser.parse_args(["fl", "export", "--kit", "k", "--job", "j", "--server-data",
                                "a:P", "--test-data", "b:T"])
    simulate = parser.parse_args(["fl", "simulate", "--workspace", "w", "--synthetic", "4",
                                  "--test-data", "b:T"])
    assert export.test_data == "b:T" and simulate.test_data == "b:T"


def test_simulate_refuses_a_sites_training_project_as_test_data(curated_site: LocalArchive,
                                                                 holdout: LocalArchive,
                                                                 tmp_path: Path) -> None:
    pytest.importorskip("nvflare")
    from sarcoma_xnat.fl.job import FLSettings
    from sarcoma_xnat.fl.runner import simulate

    sites = [SiteConfig("site-1", str(holdout.root), "HOLDOUT")]
    server = SiteConfig("server", str(curated_site.root), "SITEA")
    with pytest.raises(ConfigurationError, match="site site-1's training project"):
        simulate(FLSettings(mode="clinical"), sites, server, tmp_path / "ws",
                 test=SiteConfig("test", str(holdout.root), "HOLDOUT"))
    assert not (tmp_path / "ws").exists()  # refused before any round
