"""Federated training with NVIDIA FLARE, and the data and workflow around the survival model.

Modules: :mod:`.dataset` (curated cohort over an archive), :mod:`.checkpoint`,
:mod:`.workflow` (central train/evaluate with figures), :mod:`.site` (a site's local
configuration), :mod:`.gate` (the server's validate-then-merge rule),
:mod:`.controller` (the NVFlare workflow using it), :mod:`.flare_client` (the client
script), :mod:`.privacy` (the differential-privacy task-result filter), :mod:`.job` (the
job/recipe), :mod:`.runner` (simulator and POC runs),
:mod:`.export` (the global model as a ``model.pt`` for ``prognosis``),
:mod:`.provision` (startup kits) and :mod:`.deploy` (start a kit's client or server).
Nothing here is imported by the core package; NVFlare is needed only by
:mod:`.controller`, :mod:`.flare_client`, :mod:`.privacy`, :mod:`.job`, :mod:`.runner` and
:mod:`.provision`.
"""

from __future__ import annotations

__all__: list[str] = []
