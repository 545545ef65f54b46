"""Print a Markdown table of parameter counts: each MONAI parent vs its DCA variant (default DCA options).

The networks and their typical configurations are the rows of ``dca_monai.nets.registry.DCA_NETS``.

python scripts/count_parameters.py [--nets DCABasicUNet DCADynUNet ...]
"""

from __future__ import annotations

import argparse

from torch import nn

from dca_monai.nets.registry import DCA_NETS


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def main() -> None:
    names = [spec.name for spec in DCA_NETS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", default=names, choices=names, help="rows to count (default: all)")
    args = parser.parse_args()
    print("| network | configuration | parent | with DCA | overhead |")
    print("|---|---|---:|---:|---:|")
    for spec in (spec for spec in DCA_NETS if spec.name in args.nets):
        for kwargs in spec.typical:
            parent, variant = count(spec.parent(**kwargs)), count(spec.net(**kwargs))
            dims = kwargs.get("spatial_dims", 3)
            detail = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("in_channels", "out_channels"))
            print(
                f"| `{spec.name}` ({dims}D) | {detail} | {parent:,} | {variant:,} "
                f"| +{100 * (variant / parent - 1):.2f}% |"
            )


if __name__ == "__main__":
    main()
