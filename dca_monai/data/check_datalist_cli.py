"""Command line of the datalist check: one summary line per section, or every problem.

Exit status 0 when clean, 2 with the problems printed on stderr (or an invalid argument)::

    dca-monai-check-datalist --datalist FILE [--data-dir DIR] --num-classes N
        [--in-channels 1] [--sections training validation] [--image-key image] [--label-key label]

``python -m dca_monai.data.check_datalist_cli`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dca_monai.data.datalist_checks import DatalistError, check_datalist

__all__ = ["main"]

PROG = "dca-monai-check-datalist"


def main(argv: Sequence[str] | None = None) -> int:
    """Check a datalist; print one summary line per section on stdout (exit 0) or the problems on stderr (exit 2).

    Args:
        argv: the arguments after the program name; ``None`` for ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when the datalist is clean, 2 when it has problems.

    Raises:
        SystemExit: with status 2 on an invalid argument (argparse's usage error).
    """
    parser = argparse.ArgumentParser(prog=PROG, description="Check a Decathlon-style datalist before training.")
    parser.add_argument("--datalist", required=True, type=Path, help="JSON datalist")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder of relative paths (default: the datalist's)"
    )
    parser.add_argument("--num-classes", required=True, type=int, help="classes including background")
    parser.add_argument("--in-channels", type=int, default=1, help="channels every image must have (default 1)")
    parser.add_argument("--sections", nargs="+", default=["training", "validation"], help="sections to check")
    parser.add_argument("--image-key", default="image", help="entry key of the image (default 'image')")
    parser.add_argument("--label-key", default="label", help="entry key of the label (default 'label')")
    args = parser.parse_args(argv)
    try:
        summaries = check_datalist(
            args.datalist,
            args.data_dir,
            num_classes=args.num_classes,
            in_channels=args.in_channels,
            sections=args.sections,
            image_key=args.image_key,
            label_key=args.label_key,
        )
    except DatalistError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        parser.error(str(error))
    for summary in summaries:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
