"""Federated training with NVIDIA FLARE, and the data and workflow around the survival model.

Modules: :mod:`.dataset` (curated cohort over an archive), :mod:`.checkpoint`,
:mod:`.workflow` (central train/evaluate with figures), :mod:`.site` (a site's local
configuration), :mod:`.gate` (the server's validate-then-merge rule),
:mod:`.controller` (the NVFlare workflow using it), :mod:`.client` (the client
script), :mod:`.job` (the job/recipe), :mod:`.poc` and :mod:`.provision`.
Nothing here is imported by the core package; NVFlare is needed only by
:mod:`.controller`, :mod:`.client`, :mod:`.job`, :mod:`.poc` and :mod:`.provision`.
"""

from __future__ import annotations

__all__: list[str] = []
