"""Drop-in conformance: every DCA network accepts what its MONAI parent accepts and gives the same output shapes.

The configurations span what MONAI's own network tests exercise (our own cases, small sizes): odd
and tiny feature counts whose sums 4 does not divide, 1D/2D/3D, anisotropic kernels and strides,
deep supervision, residual blocks, norms and activations, dropout, batch 1, odd input sizes where
the parent pads them. For each, the parent is built and run; the DCA variant, with ``dca=True``
(every block argument left at its default, as a user who only adds DCA to the class name) and
with ``dca=False``, must give the parent's output shapes, or fail with the parent's exception
type where the parent refuses the configuration (those cases say so: ``accepted=False``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
import torch

from dca_monai.blocks.dual_cross_attention import TOKEN_BUDGET, DualCrossAttention
from dca_monai.nets.registry import dca_net_spec

ACTS = ["relu", "prelu", "elu", "gelu", "swish", "tanh", ("leakyrelu", {"negative_slope": 0.2, "inplace": True})]


def case(
    net: str, shape: tuple[int, ...], *, train: bool = False, accepted: bool = True, slow: bool = False, **kwargs: Any
):
    """One configuration: ``net``'s DCA class name, constructor arguments, input shape ``(B, C, *S)``, mode."""
    name = "-".join([net, "x".join(map(str, shape)), *(f"{k}={v}" for k, v in kwargs.items()), "train" * train])
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(net, kwargs, shape, train, accepted, id=name.replace(" ", ""), marks=marks)


BASIC_UNET = [
    *(
        case("DCABasicUNet", (2, 5, 33), spatial_dims=1, in_channels=5, out_channels=8, upsample=mode)
        for mode in ("pixelshuffle", "nontrainable", "deconv")
    ),
    case("DCABasicUNet", (1, 1, 40), spatial_dims=1, out_channels=3, features=(4, 5, 6, 7, 8, 3)),
    *(
        case("DCABasicUNet", (batch, 2, *size), spatial_dims=2, in_channels=2, out_channels=3, upsample=mode, **f)
        for (batch, size, mode) in [
            (2, (33, 47), "pixelshuffle"),
            (1, (47, 34), "nontrainable"),
            (2, (61, 35), "deconv"),
        ]
        for f in [{"features": (12, 12, 13, 14, 15, 16)}]
    ),
    *(
        case("DCABasicUNet", (1, 1, 35, 22), spatial_dims=2, features=(12, 12, 14, 14, 16, 16), norm=norm, act=act)
        for norm, act in zip(itertools.cycle(["batch", "instance", ("group", {"num_groups": 2})]), ACTS)
    ),
    case("DCABasicUNet", (2, 1, 32, 32), spatial_dims=2, features=(3, 3, 3, 3, 3, 3), dropout=0.2),
    case("DCABasicUNet", (1, 1, 33, 34, 35), features=(16, 20, 21, 22, 23, 11), upsample="pixelshuffle"),
    case("DCABasicUNet", (2, 2, 33, 37, 34), in_channels=2, out_channels=7, features=(6, 7, 8, 9, 10, 5)),
    case("DCABasicUNet", (1, 4, 34, 35, 37), in_channels=4, features=(6, 7, 8, 9, 10, 5), upsample="nontrainable"),
    # InstanceNorm needs more than one voxel at the bottleneck: the parent refuses 19 x 18 x 17
    case("DCABasicUNet", (1, 1, 19, 18, 17), accepted=False, features=(6, 7, 8, 9, 10, 5)),
]

DYNUNET = [
    case(
        "DCADynUNet",
        (1, in_channels, 32, 32),
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=2,
        kernel_size=kernel,
        strides=strides,
        upsample_kernel_size=strides[1:],
        norm_name="batch",
        act_name=("leakyrelu", {"inplace": True, "negative_slope": 0.2}),
        res_block=res_block,
    )
    for in_channels, kernel, strides, res_block in [
        (2, (3, 3, 3, 1), (1, 1, 1, 1), True),
        (3, ((3, 1), 1, (3, 3), (1, 1)), (2, 2, 2, 1), False),
        (2, ((3, 1), 1, (3, 3), (1, 1)), (1, 1, 1, 1), False),
        (3, (3, 3, 3, 1), (2, 2, 2, 1), True),
    ]
] + [
    case(
        "DCADynUNet",
        (1, 1, 32, 32, 32),
        train=train,
        spatial_dims=3,
        in_channels=1,
        out_channels=3,
        kernel_size=(3, (1, 1, 3), 3, 3),
        strides=((1, 2, 1), 2, 2, 1),
        upsample_kernel_size=(2, 2, 1),
        filters=(16, 24, 32, 48),
        deep_supervision=True,
        res_block=res_block,
        dropout=("alphadropout", {"p": 0.25}),
        trans_bias=True,
    )
    for train, res_block in [(False, True), (True, False)]
] + [
    case(
        "DCADynUNet",
        (1, 1, *[32 if dims == 2 else 16] * dims),
        train=True,
        spatial_dims=dims,
        in_channels=1,
        out_channels=2,
        kernel_size=[3] * len(strides),
        strides=strides,
        upsample_kernel_size=strides[1:],
        filters=[16, 16, 32, 32, 48][: len(strides)],
        norm_name=("group", {"num_groups": 8}),
        deep_supervision=True,
        deep_supr_num=supr,
        res_block=res_block,
    )
    for dims, strides, supr, res_block in [
        (2, (1, 2, 1, 2, 1), 2, True),
        (2, (2, 2, 2, 1), 1, False),
        (3, (2, 1, 1, 2, 2), 2, False),
        (3, (1, 2, 1, 2, 1), 1, True),
    ]
] + [
    case("DCADynUNet", (2, 1, 24), train=True, spatial_dims=1, in_channels=1, out_channels=2, kernel_size=[3] * 4,
         strides=[1, 2, 2, 2], upsample_kernel_size=[2] * 3, filters=[5, 6, 7, 9], deep_supervision=True),
    # sizes not divisible by the strides: the parent's decoder cannot concatenate
    case("DCADynUNet", (1, 1, 30, 30), accepted=False, spatial_dims=2, in_channels=1, out_channels=2,
         kernel_size=[3] * 4, strides=[1, 2, 2, 2], upsample_kernel_size=[2] * 3, filters=[8, 8, 8, 8]),
]  # fmt: skip

SEGRESNET = [
    case("DCASegResNet", (2, 1, *[16] * dims), spatial_dims=dims, init_filters=filters, dropout_prob=dropout,
         norm=norm, upsample_mode=mode, use_conv_final=final, out_channels=out)
    for dims, filters, dropout, norm, mode, final, out in [
        (2, 8, None, ("GROUP", {"num_groups": 8}), "deconv", False, 2),
        (2, 16, 0.2, ("batch", {"track_running_stats": False}), "nontrainable", True, 1),
        (2, 6, None, "instance", "pixelshuffle", True, 2),
        (3, 8, 0.2, "instance", "pixelshuffle", False, 2),
        (3, 16, None, ("GROUP", {"num_groups": 8}), "nontrainable", True, 2),
        (3, 12, None, "batch", "deconv", True, 1),
    ]
] + [
    case("DCASegResNet", (1, 1, 16, 16), accepted=False, spatial_dims=2, init_filters=6),  # GroupNorm(8, 6)
    case("DCASegResNet", (1, 1, 16), accepted=False, spatial_dims=1),
]  # fmt: skip

ATTENTION_UNET = [
    case("DCAAttentionUnet", (batch, 1, *[size] * dims), spatial_dims=dims, in_channels=1, out_channels=2,
         channels=(3, 4, 5), strides=strides, up_kernel_size=5, kernel_size=kernel)
    for batch, dims, size, strides, kernel in [
        (3, 2, 20, (1, 2), 3),
        (1, 2, 24, (2, 2), 5),
        (1, 3, 12, (1, 2), 7),
        (2, 3, 12, (2, 2), 3),
        (2, 1, 32, (2, 2), 3),
        (1, 2, 92, (1, 2), 3),  # coarsest skip 92^2: the automatic token grid is 46^2
    ]
] + [
    case("DCAAttentionUnet", (1, 2, 16, 12), spatial_dims=2, in_channels=2, out_channels=3, channels=(5, 7, 9, 11),
         strides=((2, 1), (1, 2), (2, 2)), dropout=0.1),
    case("DCAAttentionUnet", (1, 1, 92, 92, 92), slow=True, spatial_dims=3, in_channels=1, out_channels=2,
         channels=(3, 4, 5), strides=(1, 2), up_kernel_size=5),
    case("DCAAttentionUnet", (1, 1, 18, 18), accepted=False, spatial_dims=2, in_channels=1, out_channels=2,
         channels=(3, 4, 5, 6), strides=(2, 2, 2)),
]  # fmt: skip

VNET = [
    case("DCAVNet", (1, in_channels, *[16] * dims), spatial_dims=dims, in_channels=in_channels, out_channels=out,
         act=act, dropout_dim=dropout_dim)
    for dims, in_channels, out, act, dropout_dim in [
        (2, 4, 1, "elu", 1),
        (2, 2, 2, "prelu", 2),
        (2, 1, 3, ("elu", {"inplace": True}), 3),
        (3, 2, 2, "prelu", 2),
    ]
] + [case("DCAVNet", (1, 1, 16), accepted=False, spatial_dims=1)]  # fmt: skip

_SWIN = {"feature_size": 12, "depths": (1, 1, 1, 1), "in_channels": 1, "out_channels": 2}
SWIN_UNETR = [
    case("DCASwinUNETR", (1, 1, 64, 32), spatial_dims=2, **_SWIN),
    case("DCASwinUNETR", (2, 1, 32, 64), spatial_dims=2, use_v2=True, normalize=False, **_SWIN),
    case("DCASwinUNETR", (1, 1, 32, 32), spatial_dims=2, downsample="mergingv2", norm_name="batch", **_SWIN),
    case(
        "DCASwinUNETR", (1, 1, 32, 32, 32), slow=True, spatial_dims=3, norm_name=("group", {"num_groups": 4}), **_SWIN
    ),
    case("DCASwinUNETR", (1, 1, 32), accepted=False, spatial_dims=1, **_SWIN),
]

_UNETR = {"hidden_size": 48, "mlp_dim": 96, "num_heads": 4, "in_channels": 1, "out_channels": 2}
UNETR = [
    case("DCAUNETR", (2, 1, 32, 32), spatial_dims=2, img_size=(32, 32), feature_size=6, proj_type="perceptron",
         res_block=False, dropout_rate=0.4, **_UNETR),
    case("DCAUNETR", (1, 1, 48, 16), spatial_dims=2, img_size=(48, 16), feature_size=5, norm_name="batch", **_UNETR),
    case("DCAUNETR", (1, 1, 32, 16, 16), spatial_dims=3, img_size=(32, 16, 16), feature_size=4, **_UNETR),
    case("DCAUNETR", (2, 1, 32), spatial_dims=1, img_size=32, feature_size=4, **_UNETR),
]  # fmt: skip

FLEXIBLE_UNET = [
    case("DCAFlexibleUNet", (batch, 1, *size), spatial_dims=len(size), in_channels=1, out_channels=2,
         backbone=backbone, decoder_channels=(32, 16, 16, 8, 8), upsample=mode)
    for batch, size, backbone, mode in [
        (2, (32, 64), "resnet10", "deconv"),
        (1, (64, 32), "efficientnet-b0", "pixelshuffle"),
        (1, (32, 32, 32), "resnet10", "nontrainable"),
    ]
] + [case("DCAFlexibleUNet", (1, 1, 33, 45), accepted=False, in_channels=1, out_channels=2, backbone="resnet10"),
       case("DCAFlexibleUNet", (1, 1, 32), accepted=False, spatial_dims=1, in_channels=1, out_channels=2,
          backbone="resnet10")]  # fmt: skip

CASES = [*BASIC_UNET, *DYNUNET, *SEGRESNET, *ATTENTION_UNET, *VNET, *SWIN_UNETR, *UNETR, *FLEXIBLE_UNET]


def _shapes(output: Any) -> Any:
    if isinstance(output, (list, tuple)):
        return [_shapes(o) for o in output]
    assert torch.isfinite(output).all()
    return tuple(output.shape)


def _attempt(factory: type[torch.nn.Module], kwargs: dict, x: torch.Tensor, train: bool) -> tuple[str, Any]:
    """``("ok", output shapes)``, or ``("refused", exception type name)`` where building or running raised."""
    try:
        torch.manual_seed(0)
        net = factory(**kwargs).train(train)
        with torch.no_grad():
            return "ok", _shapes(net(x))
    except (ValueError, TypeError, RuntimeError, AssertionError, NotImplementedError) as error:
        return "refused", type(error).__name__


@pytest.mark.parametrize("net, kwargs, shape, train, accepted", CASES)
def test_dca_variant_accepts_what_the_parent_accepts(net, kwargs, shape, train, accepted) -> None:
    spec = dca_net_spec(net)
    x = torch.rand(*shape)
    expected = _attempt(spec.parent, kwargs, x, train)
    assert expected[0] == ("ok" if accepted else "refused"), f"the parent gave {expected}"
    tokens: list[int] = []
    for dca in (True, False):
        if dca and accepted:  # the automatic token grid stays within the budget
            hook = torch.nn.modules.module.register_module_forward_pre_hook(
                lambda module, args: (
                    tokens.append(math.prod(module.token_grid(args[0])))
                    if isinstance(module, DualCrossAttention)
                    else None
                )
            )
        try:
            assert _attempt(spec.net, {**kwargs, "dca": dca}, x, train) == expected, f"dca={dca}"
        finally:
            if dca and accepted:
                hook.remove()
    if accepted:
        assert len(tokens) == 1 and 1 <= tokens[0] <= TOKEN_BUDGET, tokens
