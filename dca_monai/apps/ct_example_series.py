"""The embedded unseen CT patient as a DICOM series that a PACS accepts (its empty UIDs filled).

TotalSegmentator's example series (20 slices, JPEG 2000 lossless) is anonymised with empty Study,
Series and SOP Instance UIDs; :func:`~dca_monai.apps.ct_organ_dataset.copy_series_with_uids` fills
them the way the CT dataset builder does, so the series has the same UIDs in the PACS as in the
dataset. ``scripts/pacs.sh load-ct-example`` uploads this copy to Orthanc, decompressed: Debian's
Orthanc 1.10 cannot hand JPEG 2000 to a client that needs it decoded (it cannot transcode it, and
its GDCM plugin crashes doing so).

Command line::

    python -m dca_monai.apps.ct_example_series --output-dir DIR [--decompress]
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pydicom

from dca_monai.apps.ct_organ_dataset import copy_series_with_uids
from dca_monai.apps.totalsegmentator_examples import example_path
from dca_monai.utils.atomic_file import write_bytes_atomic

__all__ = ["main", "write_ct_example_series"]


def write_ct_example_series(
    output_dir: str | os.PathLike, source_dir: str | os.PathLike | None = None, decompress: bool = False
) -> Path:
    """Write the repaired series into ``output_dir`` (emptied first) and return it.

    Args:
        output_dir: folder for the ``*.dcm`` files; created when missing.
        source_dir: the extracted example files; the set-up's folder by default.
        decompress: store the pixel data uncompressed (explicit VR little endian); JPEG 2000
            lossless decodes to the same values.

    Raises:
        TotalSegmentatorExamplesMissing: when the set-up did not fetch the example files.
    """
    folder = copy_series_with_uids(example_path("dicom_series", source_dir), Path(output_dir))
    if decompress:
        for file in sorted(folder.glob("*.dcm")):
            dataset = pydicom.dcmread(file)
            dataset.decompress(generate_instance_uid=False)  # lossless: the same instance
            buffer = io.BytesIO()
            dataset.save_as(buffer, enforce_file_format=True)
            write_bytes_atomic(file, buffer.getvalue())
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the series and print its folder."""
    parser = argparse.ArgumentParser(
        prog="python -m dca_monai.apps.ct_example_series",
        description="Write the embedded unseen CT patient's DICOM series with its UIDs filled.",
    )
    parser.add_argument("--output-dir", required=True, type=Path, help="folder to write the series to")
    parser.add_argument("--decompress", action="store_true", help="store the pixel data uncompressed")
    args = parser.parse_args(argv)
    print(write_ct_example_series(args.output_dir, decompress=args.decompress))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
