"""The trainers of :mod:`dca_monai.nnunet.trainers`, for nnU-Net's ``nnUNet_extTrainer`` search.

nnU-Net imports every module of a folder listed in ``nnUNet_extTrainer`` as a top-level module and
takes the class of the requested name from it; this module re-exports the trainers, so that the
classes nnU-Net finds are those of the installed package.
"""

from __future__ import annotations

from dca_monai.nnunet.trainers import nnUNetTrainerDCA, nnUNetTrainerDCA_tokenpool2

__all__ = ["nnUNetTrainerDCA", "nnUNetTrainerDCA_tokenpool2"]
