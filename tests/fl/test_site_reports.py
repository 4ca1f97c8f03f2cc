"""A simulated federation: each site's rounded counts travel through its outbound gate into the card.

The sites impute missing values from their own subjects (the fill values stay there),
report subjects, events and follow-up rounded and suppressed with their final validation
result, and the exported model card lists them per site with the cohort rules and the
missing-value policy.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("nvflare")

from fl_fixtures import make_site  # noqa: E402

from sarcoma_xnat.archive import LocalArchive, ObjectRef  # noqa: E402


def _rounded(n: int) -> int | str:
    """The documented rule, written out: nearest multiple of 5; below 5 shown as '<5'."""
    return "<5" if n < 5 else 5 * int(n / 5 + 0.5)


def _expected(root: Path, project: str) -> dict:
    """What the card should say of a clinical-mode site: every subject with outcomes is used."""
    archive = LocalArchive(root)
    fields = [s.fields for s in archive.children(ObjectRef(project), "subject")]
    out: dict = {"subjects": _rounded(len(fields))}
    for e in ("os", "dm"):
        median = statistics.median(float(f[f"{e}_months"]) for f in fields)
        out[e] = {"events": _rounded(sum(int(f[f"{e}_event"]) for f in fields)),
                  "median_follow_up_months_rounded_down": 3 * math.floor(median / 3)}
    return out


@pytest.mark.slow
def test_sites_report_rounded_counts_into_the_exported_card(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.checkpoint import load_checkpoint
    from sarcoma_xnat.fl.job import FLSettings
    from sarcoma_xnat.fl.runner import simulate
    from sarcoma_xnat.fl.site import SiteConfig

    make_site(tmp_path / "a", "SITEA", 23, seed=21, broken=True)  # 26 subjects, BROKEN2 lacks a grade
    make_site(tmp_path / "b", "SITEB", 13, seed=22)
    make_site(tmp_path / "s", "VALID", 24, seed=23, broken=True)
    sites = [SiteConfig("site-1", str(tmp_path / "a"), "SITEA"),
             SiteConfig("site-2", str(tmp_path / "b"), "SITEB")]
    settings = FLSettings(num_rounds=1, mode="clinical", local_epochs=1, batch_size=12, lr=3e-3,
                          max_drop=0.5, gate_boot=200)
    result = simulate(settings, sites, SiteConfig("server", str(tmp_path / "s"), "VALID"),
                      tmp_path / "ws")

    card = json.loads(result.checkpoint.with_name("model_card.json").read_text())
    per_site = card["data"]["per_site"]
    assert set(per_site) == {"site-1", "site-2"}
    for name, root, project in (("site-1", "a", "SITEA"), ("site-2", "b", "SITEB")):
        entry = per_site[name]
        expected = _expected(tmp_path / root, project)
        assert entry["subjects"] == expected["subjects"]
        for e in ("os", "dm"):
            assert entry[e] == expected[e], (name, e)
        assert 0.0 <= entry["final_validation"]["c_index_os"] <= 1.0
        assert entry["excluded_by_qc"] == "<5" and entry["skipped_sessions"] == "<5"
    assert per_site["site-1"]["subjects"] == 25 and per_site["site-2"]["subjects"] == 15
    assert per_site["site-1"]["subjects_with_imputed_values"] == "<5"  # BROKEN2 only
    assert "rounded to the nearest 5" in card["data"]["per_site_rule"]

    missing = card["missing_values"]
    assert missing["strategy"] == "impute" and "stay at the site" in missing["fitted_on"]
    assert "server's validation subjects (project VALID)" in missing["fill_used_by_this_model"]
    assert missing["imputed_on_server"] == {"tumour_grade": 1}  # the server's BROKEN2
    assert "baseline=true" in card["cohort_rules"]["baseline_rule"]
    assert card["cohort_rules"]["sites"]["site-2"]["excluded_by_qc"] == "<5"
    html = result.checkpoint.with_name("model_card.html").read_text()
    assert "per_site / site-1" in html and "&lt;5" in html
    _, meta = load_checkpoint(result.checkpoint)
    assert meta["missing_values"]["fill"]["tumour_grade"] in {"1", "2", "3"}

    # what site-1 sent with its final validation, as its outbound log lists it
    run_dir = tmp_path / "ws" / "simulation" / settings.name
    lines = next((run_dir / "site-1").rglob("outbound_log.jsonl")).read_text().splitlines()
    sent = [json.loads(line) for line in lines if '"kind": "METRICS"' in line]
    assert len(sent) == 1 and sent[0]["accepted"] is True
    assert sent[0]["metrics"]["n_subjects"] == 25.0
