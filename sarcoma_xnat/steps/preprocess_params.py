"""Parameters of the ``preprocess`` step, validated once, shared by the CLI and the container."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.imaging.bias import DEFAULT_TARGET_VOXELS, DEFAULT_THREADS
from sarcoma_xnat.imaging.roi import ROI_KINDS
from sarcoma_xnat.imaging.selection import DEFAULT_RULES, SeriesRule, rules_from_json

__all__ = ["GRID_MODES", "PreprocessParams"]

GRID_MODES = ("fov", "box")


@dataclass(frozen=True)
class PreprocessParams:
    """Everything that controls ``preprocess``; the defaults are the study's protocol.

    Attributes
    ----------
    t1_pattern, t2_pattern : str or None
        Regular expressions over scan type + SeriesDescription selecting each channel
        (override the project's rules and the defaults; exclusions and preferences stay).
    series_rules : dict or None
        The project's ``series_rules.json`` (see
        :func:`~sarcoma_xnat.imaging.selection.rules_from_json`), over the default rules.
    t1_scan, t2_scan : str or None
        Explicit scan IDs (override the patterns).
    roi_type : {"SEG", "RTSTRUCT"}
        Preferred ROI collection type when the session has both.
    roi_collection : str or None
        Label of the ROI collection assessor to use (required when several of one type).
    segment_label : str or None
        Segment (SEG) or ROI (RTSTRUCT) name; by default the only one, or "Tumour".
    require_roi : bool
        Refuse a session without an annotation (otherwise: no mask, FOV grid).
    grid : {"fov", "box"}
        128³ grid over the T1 field of view, or an isotropic cube around the tumour.
    margin_mm : float
        Margin around the tumour's bounding box in ``box`` mode.
    size : int
        Voxels per axis of the output grid.
    interpolator : {"bspline", "linear"}
        Image interpolation onto the grid (masks always use nearest neighbour).
    n4_target_voxels : int
        Voxels of the shrunk image N4 is fitted on.
    n4_iterations : tuple of int
        Iterations per N4 fitting level.
    n4_threads : int
        Threads for the N4 fit (fixed, so results are identical on every machine).
    min_overlap : float
        Least fraction of the output grid the T2 must cover.
    subject, session : str or None
        Archive labels, used only to name the session in errors.
    """

    t1_pattern: str | None = None
    t2_pattern: str | None = None
    series_rules: dict[str, Any] | None = None
    t1_scan: str | None = None
    t2_scan: str | None = None
    roi_type: str = "SEG"
    roi_collection: str | None = None
    segment_label: str | None = None
    require_roi: bool = False
    grid: str = "fov"
    margin_mm: float = 20.0
    size: int = 128
    interpolator: str = "bspline"
    n4_target_voxels: int = DEFAULT_TARGET_VOXELS
    n4_iterations: tuple[int, ...] = (50, 50, 50)
    n4_threads: int = DEFAULT_THREADS
    min_overlap: float = 0.5
    subject: str | None = field(default=None, compare=False)
    session: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        roi_type = str(self.roi_type).upper()
        object.__setattr__(self, "roi_type", roi_type)
        object.__setattr__(self, "n4_iterations", tuple(int(i) for i in self.n4_iterations))
        problems = []
        if roi_type not in ROI_KINDS:
            problems.append(f"roi_type must be one of {ROI_KINDS}, got {self.roi_type!r}")
        if self.grid not in GRID_MODES:
            problems.append(f"grid must be one of {GRID_MODES}, got {self.grid!r}")
        if self.interpolator not in ("bspline", "linear"):
            problems.append(f"interpolator must be bspline or linear, got {self.interpolator!r}")
        if not 8 <= int(self.size) <= 512:
            problems.append(f"size must be between 8 and 512, got {self.size}")
        if self.margin_mm < 0:
            problems.append(f"margin_mm must be >= 0, got {self.margin_mm}")
        if not self.n4_iterations or min(self.n4_iterations) < 1 or len(self.n4_iterations) > 8:
            problems.append(f"n4_iterations must be 1-8 positive counts, got {self.n4_iterations}")
        if self.n4_target_voxels < 1000:
            problems.append(f"n4_target_voxels must be >= 1000, got {self.n4_target_voxels}")
        if self.n4_threads < 1:
            problems.append(f"n4_threads must be >= 1, got {self.n4_threads}")
        if not 0 < self.min_overlap <= 1:
            problems.append(f"min_overlap must be in (0, 1], got {self.min_overlap}")
        if problems:
            raise ConfigurationError("invalid preprocess parameters: " + "; ".join(problems))
        self.rules()  # a bad series rules file or pattern is refused before any work

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | PreprocessParams | None) -> PreprocessParams:
        """Build parameters from a mapping (unknown keys are an error); ``None`` gives defaults."""
        if isinstance(values, PreprocessParams):
            return values
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(f"unknown preprocess parameters: {', '.join(unknown)}; "
                                     f"expected some of {', '.join(sorted(known))}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    def rules(self) -> dict[str, SeriesRule]:
        """Return the series selection rules these parameters describe."""
        base = rules_from_json(self.series_rules) if self.series_rules else dict(DEFAULT_RULES)
        out = {}
        for channel, pattern, scan in (("t1", self.t1_pattern, self.t1_scan),
                                       ("t2", self.t2_pattern, self.t2_scan)):
            rule = base[channel]
            out[channel] = SeriesRule(pattern or rule.include, rule.exclude, scan, rule.prefer)
        return out

    def context(self) -> dict[str, str]:
        """Return the error context (subject and session labels) these parameters carry."""
        return {k: v for k, v in (("subject", self.subject), ("session", self.session)) if v}

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-ready values (for provenance)."""
        out = dataclasses.asdict(self)
        out["n4_iterations"] = list(self.n4_iterations)
        return out
