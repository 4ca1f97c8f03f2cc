"""The model card as one self-contained HTML page: tables, and the Kaplan–Meier and calibration plots.

Everything is inline (the plots as base64 PNG ``data:`` URIs, the style in the page),
so the page opens from an XNAT resource or an e-mail without reaching anything. It
shows what :func:`~sarcoma_xnat.fl.model_card.write_model_card` put into the JSON card
(counts only, no labels) and the evaluation plots written beside the model
(``km_<endpoint>.png``, ``calibration_<endpoint>.png``) by ``model train`` (its held-out
split) or ``fl export`` (the server's validation data, or a held-out test project). Every
plot and the metrics are labelled with what they were computed on (the card's
``plots_source`` and ``metrics_source``).
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["FIGURES", "render_html"]

#: the evaluation plots embedded when present beside the model, per endpoint
FIGURES = (("km", "Kaplan–Meier by predicted risk group"), ("calibration", "Calibration"))
_ENDPOINTS = {"os": "overall survival", "dm": "distant metastasis"}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
          "color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;"
          "padding:.25em .6em;text-align:left}th{background:#eee}.warn{background:#fff3cd;"
          "border:1px solid #d39e00;padding:.6em}figure{display:inline-block;margin:.5em}"
          "code{font-size:90%}")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _ci(c: Any) -> str:
    if not isinstance(c, dict) or "value" not in c:
        return "" if c is None else str(c)
    return f"{c['value']:.3f} ({c['ci_lower']:.3f}–{c['ci_upper']:.3f})"


def _cohorts(data: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    """One row per summary (a dict with ``subjects``) found in the card's data, sites included."""
    rows = []
    for name, value in data.items():
        if not isinstance(value, dict):
            continue
        label = f"{prefix}{name}"
        if "subjects" in value:
            row: list[Any] = [label, value.get("project", ""), value["subjects"]]
            for endpoint in _ENDPOINTS:
                r = value.get(endpoint) or {}
                row += [r.get("events", ""), r.get("median_follow_up_months_rounded_down", "")]
            rows.append(row)
        else:
            rows += _cohorts(value, f"{label} / ")
    return rows


def _figures(folder: Path | None, source: str) -> str:
    parts = []
    for endpoint, name in _ENDPOINTS.items():
        for stem, title in FIGURES:
            path = folder / f"{stem}_{endpoint}.png" if folder is not None else None
            if path is None or not path.is_file():
                continue
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f'<figure data-source="{_e(source)}">'
                         f'<img alt="{_e(title)}, {name}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{_e(title)}: {name} ({_e(source)})</figcaption></figure>")
    if not parts:
        return "<p>No evaluation plots were made for this model.</p>"
    return f"<p>Computed on: <strong>{_e(source)}</strong>.</p>\n" + "\n".join(parts)


def _plots_source(card: dict[str, Any]) -> str:
    """What the plots were computed on; cards from before the label: ``model train``'s held-out split."""
    from sarcoma_xnat.fl.model_card import TEST_SOURCE

    return str(card.get("plots_source") or TEST_SOURCE)


def _gate(card: dict[str, Any]) -> str:
    gate = card.get("gate")
    if not gate:
        return "<p>Not federated: no rounds, no gate decisions.</p>"
    rows = []
    for g in gate:
        reasons = g.get("reasons") or {}
        rows.append([g.get("round"), "yes" if g.get("merged") else "no",
                     ", ".join(g.get("accepted") or []) or "none",
                     ", ".join(g.get("rejected") or []) or "none",
                     "; ".join(f"{s}: {r}" for s, r in sorted(reasons.items()))])
    return _table(["round", "merged", "accepted", "rejected", "reasons"], rows)


def _evaluations(card: dict[str, Any]) -> str:
    """One row per evaluation and endpoint, each labelled with its data (validation, test)."""
    rows = []
    for e in (card.get("evaluations") or {}).values():
        found = {k: r for k, r in (e.get("metrics") or {}).items()
                 if isinstance(r, dict) and "harrell_c" in r}
        for name, r in found.items():
            rows.append([e.get("label"), e.get("project"), (e.get("metrics") or {}).get("n", ""),
                         name.upper(), r.get("events", ""), _ci(r["harrell_c"]), _ci(r.get("uno_c"))])
        if not found:
            rows.append([e.get("label"), e.get("project"), "", "not evaluated",
                         e.get("not_evaluated", ""), "", ""])
    if not rows:
        return ""
    return "<h3>Evaluations</h3>" + _table(["data", "project", "subjects", "endpoint", "events",
                                            "Harrell C (95% CI)", "Uno C (95% CI)"], rows)


def _metrics(metrics: dict[str, Any], source: str | None = None) -> str:
    rows = []
    for name, r in metrics.items():
        if isinstance(r, dict) and "harrell_c" in r:
            rows.append([name.upper(), r.get("events", ""), _ci(r["harrell_c"]), _ci(r.get("uno_c"))])
        elif name != "n":
            rows.append([name, "", _ci(r), ""])
    if not rows:
        return "<p>No held-out evaluation was run for this model.</p>"
    n = f"<p>Evaluated on {_e(metrics['n'])} subjects.</p>" if metrics.get("n") is not None else ""
    head = f"<p>Computed on: <strong>{_e(source)}</strong>.</p>" if source else ""
    return head + _table(["endpoint / score", "events", "Harrell C (95% CI)", "Uno C (95% CI)"],
                         rows) + n


def render_html(card: dict[str, Any], figures: str | os.PathLike[str] | None = None) -> str:
    """Return the card as a self-contained HTML page; plots are taken from folder ``figures``."""
    m = card["model"]
    prep = m.get("preprocessing") or []
    prep_rows = [[p.get("step_version"), "x".join(str(n) for n in p.get("grid_shape") or []),
                  json.dumps(p.get("parameters"), sort_keys=True)] for p in prep]
    model_rows = [["file", m.get("file")], ["format", m.get("format")], ["sha256", m.get("sha256")],
                  ["inputs", m.get("mode")], ["image branch", m.get("preset")],
                  ["network input size", m.get("image_size")],
                  ["ensemble size", m.get("ensemble_size")],
                  ["federated", "yes" if m.get("federated") else "no"],
                  ["clinical encoding version", m.get("encoding_version")],
                  ["clinical features", ", ".join(m.get("feature_names") or [])],
                  ["created (UTC)", card.get("created_utc")]]
    data = card.get("data") or {}
    notes = [[k, v] for k, v in data.items() if not isinstance(v, dict)]
    header = ["cohort", "project", "subjects"] + [f"{e.upper()} {w}" for e in _ENDPOINTS
                                                  for w in ("events", "median follow-up (months, rounded down)")]
    agg = card.get("aggregation") or {}
    sections = [
        f"<h1>Model card: {_e(m.get('file'))} ({_e(m.get('mode'))}, {_e(m.get('preset'))})</h1>",
        f'<p class="warn"><strong>{_e(card.get("warning"))}</strong></p>',
        f"<h2>Intended use</h2><p>{_e(card.get('intended_use'))}</p>",
        "<h2>Model</h2>" + _table(["", ""], model_rows),
        "<h2>Preprocessing of the training images</h2>" + (
            _table(["preprocess version", "grid", "image parameters"], prep_rows) if prep_rows
            else "<p>Not recorded (clinical-only model or made before it was recorded).</p>"),
        "<h2>Training data (counts only)</h2>" + _table(header, _cohorts(data)) + (
            _table(["", ""], notes) if notes else ""),
        *(f"<h2>{title}</h2><pre>{_e(json.dumps(card[key], indent=2, sort_keys=True))}</pre>"
          for key, title in (("cohort_rules", "Cohort rules"),
                             ("missing_values", "Missing clinical values")) if card.get(key)),
        "<h2>Training settings</h2>" + _table(
            ["setting", "value"], [[k, v] for k, v in sorted((card.get("training") or {}).items())]),
        (f"<p>Baseline hazard and censoring distribution are step functions on a "
         f"{_e(agg.get('grid_months'))}-month grid with at least {_e(agg.get('min_count'))} "
         "subjects per step; no subject's outcome or label is stored.</p>") if agg else "",
        "<h2>Federated rounds and gate decisions</h2>" + _gate(card),
        "<h2>Metrics</h2>" + _metrics(card.get("metrics") or {}, card.get("metrics_source"))
        + _evaluations(card),
        "<h2>Plots</h2>" + _figures(Path(figures) if figures is not None else None,
                                    _plots_source(card)),
        "<h2>Software</h2>" + _table(["package", "version"],
                                     [[k, v] for k, v in (card.get("software") or {}).items()]),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Model card {_e(m.get('sha256', ''))[:12]}</title><style>{_STYLE}</style></head>"
            "<body>\n" + "\n".join(s for s in sections if s) + "\n</body></html>\n")
