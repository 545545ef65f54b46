from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import SaveImage

from dca_monai.transforms.atomic_nibabel_writer import AtomicNibabelWriter, _extension

AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])


def labels(fill: int = 0) -> MetaTensor:
    array = torch.full((1, 5, 6, 7), fill, dtype=torch.uint8)
    array[0, 1:3, 2:5, 3] = 2
    return MetaTensor(array, affine=torch.as_tensor(AFFINE), meta={"filename_or_obj": "/in/case_01.nii.gz"})


@pytest.mark.parametrize("ext", [".nii.gz", ".nii"])
def test_save_image_writes_through_a_temporary_file(tmp_path: Path, ext: str) -> None:
    save = SaveImage(
        output_dir=tmp_path,
        output_postfix="seg",
        output_ext=ext,
        output_dtype=np.uint8,
        separate_folder=False,
        writer=AtomicNibabelWriter,
    )
    save(labels())

    assert [path.name for path in tmp_path.iterdir()] == [f"case_01_seg{ext}"]
    written = nib.load(tmp_path / f"case_01_seg{ext}")
    assert np.array_equal(np.asanyarray(written.dataobj), labels()[0].numpy())
    assert np.allclose(written.affine, AFFINE)
    assert (tmp_path / f"case_01_seg{ext}").stat().st_mode & 0o777 == 0o644


def test_writer_resolves_from_a_dotted_name(tmp_path: Path) -> None:
    save = SaveImage(output_dir=tmp_path, separate_folder=False, writer="dca_monai.transforms.AtomicNibabelWriter")
    assert save.writers == (AtomicNibabelWriter,)


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "case.nii.gz"
    writer = AtomicNibabelWriter()
    writer.set_data_array(labels(1), channel_dim=0)
    writer.set_metadata({"affine": AFFINE})
    writer.write(target)
    before = target.read_bytes()

    def failing_save(image: nib.Nifti1Image, filename: str) -> None:
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", failing_save)
    writer = AtomicNibabelWriter()
    writer.set_data_array(labels(3), channel_dim=0)
    writer.set_metadata({"affine": AFFINE})
    with pytest.raises(OSError, match="disk full"):
        writer.write(target)

    assert target.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["case.nii.gz"]


def test_missing_folder_is_named(tmp_path: Path) -> None:
    writer = AtomicNibabelWriter()
    writer.set_data_array(labels(), channel_dim=0)
    with pytest.raises(FileNotFoundError, match=r"folder .*missing does not exist"):
        writer.write(tmp_path / "missing" / "case.nii.gz")


@pytest.mark.parametrize(
    "name, ext", [("a.nii.gz", ".nii.gz"), ("a.b.nii.gz", ".nii.gz"), ("a.nii", ".nii"), ("a.NII.GZ", ".NII.GZ")]
)
def test_extension(name: str, ext: str) -> None:
    assert _extension(Path(name)) == ext
