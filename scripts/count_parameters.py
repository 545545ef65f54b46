"""Print a Markdown table of parameter counts: each MONAI parent vs its DCA variant (default DCA options).

python scripts/count_parameters.py
"""

from __future__ import annotations

from typing import Any

from monai.networks import nets as monai_nets
from torch import nn

from dca_monai import nets as dca_nets

# (DCA class, parent class, constructor arguments): typical 3D configurations, plus the paper's 2D U-Net widths
CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("DCABasicUNet", "BasicUNet", {"spatial_dims": 3, "in_channels": 1, "out_channels": 4}),
    (
        "DCABasicUNet",
        "BasicUNet",
        {"spatial_dims": 2, "in_channels": 1, "out_channels": 4, "features": (32, 64, 128, 256, 512, 32)},
    ),
    (
        "DCADynUNet",
        "DynUNet",
        {
            "spatial_dims": 3,
            "in_channels": 1,
            "out_channels": 4,
            "kernel_size": [3] * 5,
            "strides": [1, 2, 2, 2, 2],
            "upsample_kernel_size": [2] * 4,
            "filters": (32, 64, 128, 256, 320),
        },
    ),
    ("DCASegResNet", "SegResNet", {"spatial_dims": 3, "in_channels": 1, "out_channels": 4, "init_filters": 16}),
    (
        "DCAAttentionUnet",
        "AttentionUnet",
        {
            "spatial_dims": 3,
            "in_channels": 1,
            "out_channels": 4,
            "channels": (16, 32, 64, 128, 256),
            "strides": (2, 2, 2, 2),
        },
    ),
    ("DCAVNet", "VNet", {"spatial_dims": 3, "in_channels": 1, "out_channels": 4}),
    ("DCASwinUNETR", "SwinUNETR", {"in_channels": 1, "out_channels": 4, "feature_size": 48}),
    ("DCAUNETR", "UNETR", {"in_channels": 1, "out_channels": 4, "img_size": 96, "feature_size": 16}),
    (
        "DCAFlexibleUNet",
        "FlexibleUNet",
        {"in_channels": 1, "out_channels": 4, "backbone": "resnet34", "spatial_dims": 3},
    ),
]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    print("| network | configuration | parent | with DCA | overhead |")
    print("|---|---|---:|---:|---:|")
    for dca_name, parent_name, kwargs in CONFIGS:
        parent = count(getattr(monai_nets, parent_name)(**kwargs))
        variant = count(getattr(dca_nets, dca_name)(**kwargs))
        dims = kwargs.get("spatial_dims", 3)
        detail = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("in_channels", "out_channels"))
        print(
            f"| `{dca_name}` ({dims}D) | {detail} | {parent:,} | {variant:,} | +{100 * (variant / parent - 1):.2f}% |"
        )


if __name__ == "__main__":
    main()
