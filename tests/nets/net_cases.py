"""Small instances of every DCA network of ``dca_monai.nets.registry.DCA_NETS``, for the tests.

Each row adds to a registry row the constructor arguments of a network small enough for a unit
test and input sizes it accepts, per ``spatial_dims`` (1 where the parent has a 1D form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from dca_monai.nets.registry import DCANetSpec, dca_net_spec

__all__ = ["SMALL_NETS", "SmallNet", "small_net"]


@dataclass(frozen=True)
class SmallNet:
    """A registry row plus a small test instance of its network.

    Attributes:
        spec: the registry row (network, parent, typical arguments, ...).
        small: per ``spatial_dims``, arguments besides ``spatial_dims``, ``in_channels`` and
            ``out_channels`` for a network small enough for a unit test.
        input_sizes: per ``spatial_dims``, spatial input sizes the small network accepts, the
            first one small; odd sizes where the parent allows them.
    """

    spec: DCANetSpec
    small: Mapping[int, Mapping[str, Any]]
    input_sizes: Mapping[int, tuple[tuple[int, ...], ...]]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def net(self) -> type[nn.Module]:
        return self.spec.net

    @property
    def parent(self) -> type[nn.Module]:
        return self.spec.parent

    @property
    def scriptable(self) -> bool:
        return self.spec.scriptable

    def small_kwargs(
        self, spatial_dims: int, size: tuple[int, ...] | None = None, in_channels: int = 1, out_channels: int = 2
    ) -> dict[str, Any]:
        """Constructor arguments of the small network for ``spatial_dims`` (and input ``size``, where it is fixed).

        Raises:
            ValueError: when there is no small network for ``spatial_dims``.
        """
        if spatial_dims not in self.small:
            raise ValueError(f"{self.name}: spatial_dims={spatial_dims} but the table has {sorted(self.small)}")
        kwargs = {"spatial_dims": spatial_dims, "in_channels": in_channels, "out_channels": out_channels}
        kwargs.update(self.small[spatial_dims])
        if self.spec.size_argument is not None:
            kwargs[self.spec.size_argument] = size if size is not None else self.input_sizes[spatial_dims][0]
        return kwargs


def _same_in(dims: tuple[int, ...], **kwargs: Any) -> dict[int, dict[str, Any]]:
    return {spatial_dims: dict(kwargs) for spatial_dims in dims}


SMALL_NETS: tuple[SmallNet, ...] = (
    SmallNet(
        dca_net_spec("DCABasicUNet"),
        small=_same_in((1, 2, 3), features=(8, 8, 16, 16, 32, 8)),
        input_sizes={1: ((48,), (35,)), 2: ((32, 32), (48, 80), (35, 51)), 3: ((32, 48, 16), (33, 17, 40))},
    ),
    SmallNet(
        dca_net_spec("DCADynUNet"),
        small=_same_in(
            (1, 2, 3),
            filters=[8, 16, 16, 32],
            kernel_size=[3, 3, 3, 3],
            strides=[1, 2, 2, 2],
            upsample_kernel_size=[2] * 3,
        ),
        input_sizes={1: ((24,), (40,)), 2: ((16, 16), (40, 24), (32, 56)), 3: ((16, 24, 8),)},
    ),
    SmallNet(
        dca_net_spec("DCASegResNet"),
        small=_same_in((2, 3), init_filters=8, blocks_down=(1, 1, 1, 1), blocks_up=(1, 1, 1)),
        input_sizes={2: ((16, 16), (40, 24), (16, 56)), 3: ((16, 24, 32), (8, 16, 24))},
    ),
    SmallNet(
        dca_net_spec("DCAAttentionUnet"),
        small=_same_in((1, 2, 3), channels=(8, 8, 16, 16), strides=(2, 2, 2)),
        input_sizes={1: ((16,), (40,)), 2: ((16, 16), (40, 24)), 3: ((16, 24, 8), (24, 8, 16))},
    ),
    SmallNet(
        dca_net_spec("DCAVNet"),
        small={2: {}, 3: {}},  # VNet's widths are fixed: skips of 16, 32, 64, 128 channels
        input_sizes={2: ((16, 16), (32, 48), (16, 64)), 3: ((16, 16, 16), (16, 32, 16))},
    ),
    SmallNet(
        dca_net_spec("DCASwinUNETR"),
        # one Swin block per stage; group norm (unlike instance norm) takes the 1-voxel stride-32 bottleneck
        small=_same_in((2, 3), feature_size=12, depths=(1, 1, 1, 1), norm_name=("group", {"num_groups": 4})),
        input_sizes={2: ((64, 32), (32, 96)), 3: ((32, 32, 32), (32, 32, 64))},
    ),
    SmallNet(
        dca_net_spec("DCAUNETR"),
        small=_same_in((2, 3), feature_size=4, hidden_size=48, mlp_dim=96, num_heads=4),
        input_sizes={2: ((32, 16), (32, 48), (64, 16)), 3: ((16, 32, 16), (32, 16, 16))},
    ),
    SmallNet(
        dca_net_spec("DCAFlexibleUNet"),
        # resnet10: skips of 64, 64, 128, 256 channels and a narrow decoder
        small=_same_in((2, 3), backbone="resnet10", decoder_channels=(32, 16, 16, 8, 8)),
        input_sizes={2: ((32, 32), (64, 96), (32, 64)), 3: ((32, 32, 32), (32, 64, 32))},
    ),
)


def small_net(name: str) -> SmallNet:
    """The row of :data:`SMALL_NETS` for the DCA network class called ``name``.

    Raises:
        KeyError: when no row has that name.
    """
    for case in SMALL_NETS:
        if case.name == name:
            return case
    raise KeyError(f"DCA network {name!r} is not in SMALL_NETS; known: {[case.name for case in SMALL_NETS]}")
