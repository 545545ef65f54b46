"""nnU-Net v2 trainers that add Dual Cross-Attention to the network nnU-Net plans: ``-tr nnUNetTrainerDCA``.

Importing this module imports ``nnunetv2`` (the ``nnunet`` extra). nnU-Net finds these classes by
name through its ``nnUNet_extTrainer`` search path (see :func:`dca_monai.nnunet.trainer_search_path`)::

    export nnUNet_extTrainer="$(python -m dca_monai.nnunet)"
    nnUNetv2_train DATASET 3d_fullres FOLD -tr nnUNetTrainerDCA
    nnUNetv2_predict -i IN -o OUT -d DATASET -c 3d_fullres -tr nnUNetTrainerDCA

DCA options are class attributes, so that prediction rebuilds the network that was trained from the
trainer's name alone: a variant is a subclass that sets :attr:`nnUNetTrainerDCA.dca_args`, in a
module of a folder listed in ``nnUNet_extTrainer`` (``docs/nnunet.md``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn
from torch._dynamo import OptimizedModule
from torch.nn.parallel import DistributedDataParallel

from dca_monai.nnunet.dca_unet import DCAUNet

__all__ = ["nnUNetTrainerDCA", "nnUNetTrainerDCA_tokenpool2"]


class nnUNetTrainerDCA(nnUNetTrainer):
    """nnU-Net's trainer with :class:`~dca_monai.nnunet.dca_unet.DCAUNet` around the planned network.

    Everything else is nnU-Net's: plans (spacing, patch size, normalisation, network topology),
    deep supervision, initialisation of the plain network, loss, optimiser, schedule, folds,
    validation, ensembling and prediction. DCA refines the encoder outputs that the decoder uses as
    skip connections, all but the bottleneck (see :class:`~dca_monai.nnunet.dca_unet.DCAUNet`).

    ``-pretrained_weights`` takes a plain nnU-Net checkpoint of the same plans: the plain network's
    weights are loaded (nnU-Net leaves out the segmentation layers) and the DCA module keeps its
    initialisation. It does the same with a DCA checkpoint (DCA weights are not transferred); to
    go on with a DCA training use ``--c``.

    Attributes:
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention` besides
            ``spatial_dims`` and ``skip_channels``; empty for the block's defaults. Set it in a subclass.
    """

    dca_args: ClassVar[dict[str, Any]] = {}

    @classmethod
    def build_network_architecture(
        cls,
        plans_manager: PlansManager,
        configuration_manager: ConfigurationManager,
        num_input_channels: int,
        num_output_channels: int,
        enable_deep_supervision: bool = True,
    ) -> nn.Module:
        """nnU-Net's network for the plans, wrapped in :class:`~dca_monai.nnunet.dca_unet.DCAUNet`.

        Called by training and by ``nnUNetv2_predict`` alike (nnU-Net 2.7+ signature).

        Raises:
            TypeError: when the plans' network class has no encoder that returns its skips.
        """
        network = super().build_network_architecture(
            plans_manager, configuration_manager, num_input_channels, num_output_channels, enable_deep_supervision
        )
        return DCAUNet(network, cls.dca_args)

    def initialize(self) -> None:
        """nnU-Net's initialisation; until training starts the network accepts plain checkpoints."""
        was_initialized = self.was_initialized
        super().initialize()
        if not was_initialized:
            self._dca_unet().accepts_plain_weights = True

    def on_train_start(self) -> None:
        """nnU-Net's start of training; from here on the state dict is the whole network, DCA included."""
        super().on_train_start()
        self._dca_unet().accepts_plain_weights = False

    def _dca_unet(self) -> DCAUNet:
        network = self.network
        if isinstance(network, DistributedDataParallel):
            network = network.module
        if isinstance(network, OptimizedModule):
            network = network._orig_mod
        if not isinstance(network, DCAUNet):
            raise TypeError(f"{type(self).__name__}.network is a {type(network).__qualname__}; expected a DCAUNet")
        return network


class nnUNetTrainerDCA_tokenpool2(nnUNetTrainerDCA):
    """:class:`nnUNetTrainerDCA` with ``token_pool=2``: ``2**spatial_dims`` times fewer attention tokens."""

    dca_args: ClassVar[dict[str, Any]] = {"token_pool": 2}
