"""An nnU-Net encoder-decoder network with Dual Cross-Attention on the skips its decoder consumes.

This module needs only torch: it wraps the network that nnU-Net built (any object with the
structure below), so it is importable and testable without ``nnunetv2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from dca_monai.nets.skip_refinement import SkipRefinement

__all__ = ["DCAUNet"]

_DCA_PREFIX = "dca."
_EXPECTED = (
    "a network with exactly the children 'encoder' and 'decoder', whose forward is decoder(encoder(x)), an encoder "
    "that returns the list of its stage outputs (return_skips=True) and lists them in output_channels, and a "
    "conv_op of Conv2d or Conv3d (as dynamic_network_architectures' PlainConvUNet and ResidualEncoderUNet)"
)


class DCAUNet(SkipRefinement, nn.Module):
    """nnU-Net's U-Net (``PlainConvUNet``, ``ResidualEncoderUNet``) with DCA between its encoder and decoder.

    The encoder returns one output per stage, fine to coarse; the decoder takes the last one (the
    bottleneck) as its input and the others as skip connections. DCA refines the skip connections,
    i.e. all encoder outputs **but the bottleneck** (as in the paper, where the bottleneck feeds the
    decoder directly): ``n_stages - 1`` skips, from the full-resolution stage down to the one above
    the bottleneck. The decoder, its deep supervision outputs and ``decoder.deep_supervision`` are
    nnU-Net's, untouched.

    The wrapped network's children become this module's children under the same names, so the
    state dict holds the plain network's keys unchanged (``encoder.*``, ``decoder.*``) plus the DCA
    module's under ``dca.``. The plain network keeps the initialisation nnU-Net gave it; the DCA
    module is initialised as :class:`~dca_monai.blocks.DualCrossAttention` initialises itself.

    Attributes:
        accepts_plain_weights: while set (by :class:`~dca_monai.nnunet.trainers.nnUNetTrainerDCA` between
            building the network and the start of training), :meth:`state_dict` leaves out the ``dca.``
            entries and :meth:`load_state_dict` accepts a state dict without any, so nnU-Net's
            ``-pretrained_weights`` loads a plain nnU-Net checkpoint. ``False`` otherwise.

    Args:
        network: the network nnU-Net built from its plans (see the expectations under ``Raises``).
        dca_args: keyword arguments of :class:`~dca_monai.blocks.DualCrossAttention` besides
            ``spatial_dims`` and ``skip_channels``, which come from the network.

    Raises:
        TypeError: when ``network`` does not have the structure described above; the message names its class.
        ValueError: when the encoder has a single stage (no skip to refine), or ``DualCrossAttention``
            rejects ``dca_args``.

    Shapes:
        ``forward``: ``(B, C_in, *S)`` in; what the wrapped decoder returns out, ``(B, C_out, *S)``
        or, with deep supervision, a list of those at the decoder's resolutions, finest first.
    """

    def __init__(self, network: nn.Module, dca_args: Mapping[str, Any] | None = None) -> None:
        nn.Module.__init__(self)
        children = dict(network.named_children())
        encoder = children.get("encoder")
        if set(children) != {"encoder", "decoder"} or encoder is None:
            raise TypeError(
                f"cannot add DCA to {type(network).__module__}.{type(network).__qualname__} (children "
                f"{sorted(children)}): expected {_EXPECTED}"
            )
        output_channels = getattr(encoder, "output_channels", None)
        conv_dims = {nn.Conv2d: 2, nn.Conv3d: 3}.get(getattr(encoder, "conv_op", None))  # type: ignore[arg-type]
        return_skips = getattr(encoder, "return_skips", None)
        if not return_skips or not isinstance(output_channels, (list, tuple)) or not conv_dims:
            raise TypeError(
                f"cannot add DCA to {type(network).__module__}.{type(network).__qualname__}: its encoder "
                f"{type(encoder).__qualname__} has return_skips={return_skips!r}, output_channels="
                f"{output_channels!r}, conv_op={getattr(encoder, 'conv_op', None)!r}; expected {_EXPECTED}"
            )
        if len(output_channels) < 2:
            raise ValueError(
                f"{type(network).__qualname__} has {len(output_channels)} encoder stage(s) but at least 2 were "
                "expected: DCA refines the skips above the bottleneck"
            )
        self.encoder = encoder
        self.decoder = children["decoder"]
        self.attach_dca(conv_dims, [int(c) for c in output_channels[:-1]], True, dca_args)
        self.accepts_plain_weights = False

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The encoder's outputs as ``(bottleneck, skips)``: the last stage and the others, fine to coarse."""
        stages = self.encoder(x)
        return stages[-1], list(stages[:-1])

    def decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """nnU-Net's decoder on the stage outputs (its input is the encoder's list, bottleneck last)."""
        return self.decoder(skips + [bottleneck])

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The module's state dict; without the ``dca.`` entries while :attr:`accepts_plain_weights` is set.

        ``accepts_plain_weights`` exists for nnU-Net's ``-pretrained_weights``, whose loader requires
        every key of the network's state dict in the file: while it is set, a plain nnU-Net
        checkpoint satisfies it and the DCA weights keep their initialisation.
        """
        state = super().state_dict(*args, **kwargs)
        if self.accepts_plain_weights:
            prefix = kwargs.get("prefix", "")
            for key in [k for k in state if k.startswith(prefix + _DCA_PREFIX)]:
                del state[key]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Load ``state_dict``; while :attr:`accepts_plain_weights` is set, one without any ``dca.`` key keeps the DCA
        module's current weights (all other keys are loaded as usual, ``strict`` included)."""
        if self.accepts_plain_weights and not any(key.startswith(_DCA_PREFIX) for key in state_dict):
            state_dict = {**state_dict, **{_DCA_PREFIX + k: v for k, v in self.dca.state_dict().items()}}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
