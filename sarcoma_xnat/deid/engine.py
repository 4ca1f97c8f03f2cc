"""The de-identification engine: apply the compiled PS3.15 profile to one dataset.

Walks the dataset and every sequence item in it, applying to each attribute the action
the profile gives it (see :mod:`sarcoma_xnat.deid.profile`). Attributes the table does
not list are handled by their VR: UIDs are remapped, person names emptied, dates
shifted, and free text scrubbed of the identifiers the dataset itself carries. Private
elements go unless they are on the safe list. Pixel data is never touched.

The work is split by concern: :mod:`~sarcoma_xnat.deid.attributes` (kept descriptors,
coded entries, VR classes), :mod:`~sarcoma_xnat.deid.walker` (the walk and its
per-element plans), :mod:`~sarcoma_xnat.deid.actions` (the profile's actions on one
element), :mod:`~sarcoma_xnat.deid.sequences` (sequences cleaned from their bytes where
nothing in them needs decoding), :mod:`~sarcoma_xnat.deid.stamp` (what is added, and
the file meta).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from sarcoma_xnat.deid.attributes import (CODED_KEYWORDS, KEPT_DESCRIPTORS, PADDING, WalkContext,
                                          patient_id_of)
from sarcoma_xnat.deid.burned_in import check_burned_in
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.pixels import PixelCleaner, PixelRecord
from sarcoma_xnat.deid.profile import (DEFAULT_OPTIONS, CompiledProfile, Option, compile_profile,
                                       load_safe_private)
from sarcoma_xnat.deid.scrub import Scrubber, identifying_tokens
from sarcoma_xnat.deid.site import SiteConfig
from sarcoma_xnat.deid.stamp import replace_file_meta, stamp
from sarcoma_xnat.deid.walker import MEMO_SIZE, Walker
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["CODED_KEYWORDS", "DeidResult", "Deidentifier", "KEPT_DESCRIPTORS"]


@dataclass
class DeidResult:
    """What de-identifying one dataset did: the pseudonym and a count per action."""

    pseudonym: str
    date_shift_days: int | None
    counts: Counter[str] = field(default_factory=Counter)
    pixels: PixelRecord | None = None


class Deidentifier(Walker):
    """De-identify datasets under one site key and one set of profile options.

    Parameters
    ----------
    key : SiteKey
        Pseudonyms, UIDs and date shifts are derived from it.
    options : iterable of Option or str
        Profile options; by default :data:`~sarcoma_xnat.deid.profile.DEFAULT_OPTIONS`.
    site : SiteConfig, optional
        The site's reviewed extensions: more safe private elements, more kept
        descriptors, Clean Pixel Data rules (:mod:`sarcoma_xnat.deid.site`).
    """

    def __init__(self, key: SiteKey, options: Iterable[Option | str] = DEFAULT_OPTIONS,
                 site: SiteConfig | None = None) -> None:
        self.key = key
        self.site = site or SiteConfig()
        self.profile: CompiledProfile = compile_profile(tuple(Option(o) for o in options))
        self._actions = self.profile.actions
        self._safe = (load_safe_private() | self.site.safe_private
                      if self.profile.private == "C" else frozenset())
        self._kept = KEPT_DESCRIPTORS | self.site.kept_descriptors
        self.pixels = PixelCleaner(self.site.pixel_rules)
        self._shift_dates = Option.RETAIN_LONG_MODIFIED_DATES in self.profile.options
        self._keep_dates = Option.RETAIN_LONG_FULL_DATES in self.profile.options
        self._basic = compile_profile(()).actions  # what C falls back to when it cannot clean
        self._safe_public: frozenset[int] = frozenset()
        self._plans: dict[tuple[int, str | None], object] = {}  # (tag, VR as read) -> plan
        self._stamps: dict[object, RawDataElement] = {}  # encoding, charset -> encoded method codes

    def deidentify(self, ds: Dataset, file: str | None = None,
                   scrubber: Scrubber | None = None, has_pixels: bool | None = None) -> DeidResult:
        """De-identify ``ds`` in place and return what was done.

        ``scrubber`` may be passed when the caller already built it from ``ds`` (with
        :func:`~sarcoma_xnat.deid.scrub.identifying_tokens`), to save the work;
        ``has_pixels`` when ``ds`` is a header read without its pixel data. Elements
        whose action needs no look at their value are never decoded (they are written
        back as the bytes they were read as).

        An image a Clean Pixel Data rule of the site matches has its rectangles blanked
        first (``ds`` must then hold the pixel data).

        Raises
        ------
        DeidentificationError
            When the image may carry burned-in text, or has no PatientID to pseudonymise.
        """
        record = None
        rule = self.pixels.rule_for(ds)
        if rule is not None:
            if "PixelData" not in ds:
                raise DeidentificationError("a Clean Pixel Data rule matches: the whole file "
                                            "must be read", file=file)
            record = self.pixels.clean(ds, rule, file)
        check_burned_in(ds, file, has_pixels)
        patient_id = patient_id_of(ds)
        if not patient_id:
            raise DeidentificationError("no PatientID: cannot assign a pseudonym", file=file)
        pseudonym = self.key.pseudonym(patient_id)
        shift = self.key.date_shift_days(pseudonym) if self._shift_dates else None
        if scrubber is None:
            scrubber = Scrubber(identifying_tokens(ds))
        ctx = WalkContext(pseudonym, shift, scrubber, Counter())
        if PADDING in ds:  # Data Set Trailing Padding: no meaning (PS3.10 7.2), any bytes
            del ds[PADDING]
        memo = scrubber.memo.setdefault(  # what an element became, for this patient and file form
            (pseudonym, shift, tuple(ds._character_set), ds.original_encoding), {})
        self._clean(ds, ctx, memo if len(memo) < MEMO_SIZE else None)
        stamp(ds, self.profile.codes, pseudonym, shift, self._keep_dates, record is not None,
              self._stamps)
        replace_file_meta(ds)
        return DeidResult(pseudonym, shift, ctx.counts, record)

