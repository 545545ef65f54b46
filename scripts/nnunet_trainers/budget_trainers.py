"""Short trainers for the CPU demo and the tests: nnU-Net's schedule cut to a few epochs of a few iterations.

Mirroring is off (in augmentation and so in nnU-Net's validation and prediction, as nnU-Net's own
``nnUNetTrainerNoMirroring``): on a CPU the 8 mirrored passes would dominate the run.

nnU-Net finds them through ``nnUNet_extTrainer`` (this folder). The budget comes from the environment,
read when the trainer is created, so one class serves the demo and the tests (the network, and so
prediction, does not depend on it):

    DCA_MONAI_NNUNET_EPOCHS      epochs (default 2)
    DCA_MONAI_NNUNET_ITERATIONS  training iterations per epoch (default 2); validation iterations: 1
"""

from __future__ import annotations

import os

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from dca_monai.nnunet.trainers import nnUNetTrainerDCA

__all__ = ["nnUNetTrainerDCA_budget", "nnUNetTrainer_budget"]


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r} but a positive int was expected")
    return int(value)


class _BudgetMixin:
    """Sets the budget before nnU-Net's ``initialize`` (which builds the learning-rate schedule from it)."""

    def initialize(self) -> None:
        if not self.was_initialized:
            self.num_epochs = _positive_int("DCA_MONAI_NNUNET_EPOCHS", 2)
            self.num_iterations_per_epoch = _positive_int("DCA_MONAI_NNUNET_ITERATIONS", 2)
            self.num_val_iterations_per_epoch = 1
        super().initialize()

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):  # nnU-Net's spelling
        rotation, dummy_2d, patch_size, _ = super().configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        self.inference_allowed_mirroring_axes = None
        return rotation, dummy_2d, patch_size, None


class nnUNetTrainer_budget(_BudgetMixin, nnUNetTrainer):
    """nnU-Net's plain trainer on the environment's budget."""


class nnUNetTrainerDCA_budget(_BudgetMixin, nnUNetTrainerDCA):
    """:class:`~dca_monai.nnunet.trainers.nnUNetTrainerDCA` on the environment's budget."""
