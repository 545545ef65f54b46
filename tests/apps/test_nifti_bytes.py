from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np

from dca_monai.apps.nifti_bytes import nifti_gz_bytes


def test_bytes_round_trip_with_scanner_codes_and_are_reproducible() -> None:
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    affine = np.diag([1.5, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.5]

    data = nifti_gz_bytes(array, affine)
    image = nib.Nifti1Image.from_bytes(gzip.decompress(data))

    np.testing.assert_array_equal(np.asarray(image.dataobj), array)
    np.testing.assert_allclose(image.affine, affine)
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
    assert nifti_gz_bytes(array, affine) == data  # mtime=0: the same input gives the same bytes
