"""DCA inside nnU-Net v2 (the ``nnunet`` extra): trainers, the network wrapper and a datalist converter.

- :class:`~dca_monai.nnunet.trainers.nnUNetTrainerDCA` (and variants): ``nnUNetv2_train ... -tr nnUNetTrainerDCA``
  once ``nnUNet_extTrainer`` lists :func:`trainer_search_path` (``python -m dca_monai.nnunet`` prints it).
- :class:`~dca_monai.nnunet.dca_unet.DCAUNet`: nnU-Net's planned U-Net with DCA on its skips.
- :func:`~dca_monai.nnunet.datalist_to_raw.datalist_to_nnunet_raw`: a MONAI/Decathlon datalist to an nnU-Net
  raw dataset (command line ``dca-monai-datalist-to-nnunet``).

``nnunetv2`` is imported only when a trainer is accessed, so ``import dca_monai.nnunet`` works without it.
See ``docs/nnunet.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dca_monai.nnunet.datalist_to_raw import datalist_to_nnunet_raw

__all__ = ["datalist_to_nnunet_raw", "nnUNetTrainerDCA", "nnUNetTrainerDCA_tokenpool2", "trainer_search_path"]

_TRAINERS = ("nnUNetTrainerDCA", "nnUNetTrainerDCA_tokenpool2")


def trainer_search_path() -> Path:
    """The folder to put in ``nnUNet_extTrainer`` so that nnU-Net finds the DCA trainers by name."""
    return Path(__file__).resolve().parent / "trainer_path"


def __getattr__(name: str) -> Any:
    if name in _TRAINERS:
        try:
            from dca_monai.nnunet import trainers
        except ModuleNotFoundError as error:
            if error.name is None or not error.name.startswith("nnunetv2"):
                raise
            raise ModuleNotFoundError(
                f"dca_monai.nnunet.{name} needs nnunetv2, which is not installed: pip install -e '.[nnunet]' "
                "(or bash scripts/setup_nnunet.sh for the tested environment)",
                name=error.name,
            ) from error
        return getattr(trainers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
