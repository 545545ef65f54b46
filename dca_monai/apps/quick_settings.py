"""The CI-sized brain bundle settings that the demo's and the bundle benchmark's ``--quick`` runs share.

Overrides of ``bundles/brain_mri_dca_segmentation/configs/*.json`` that keep the real pipeline (demo
data build, training, sliding-window inference) but make it run in about a minute on a 2-core CPU:
a 4 mm grid, 2 training cases, a tiny network and 32^3 patches. Figures from them say that the code
runs, nothing about the model.
"""

from __future__ import annotations

__all__ = ["BRAIN_QUICK_OVERRIDES"]

BRAIN_QUICK_OVERRIDES: dict[str, object] = {
    "pixdim": 4.0,
    "num_train": 2,
    "num_val": 1,
    "num_test": 1,
    "filters": [4, 4, 8, 8, 8],
    "roi_size": [32, 32, 32],
    "sw_batch_size": 2,
    "num_samples": 1,
    "batch_size": 2,
}
