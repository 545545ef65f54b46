from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from scipy import ndimage

from dca_monai.apps import brain_dataset
from dca_monai.apps.brain_dataset import DATALIST_NAME, build_brain_dataset

SMALL = {"num_train": 2, "num_val": 1, "num_test": 1, "spacing": 4.0, "seed": 0}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_brain_dataset(tmp_path_factory.mktemp("brain") / "dataset", **SMALL)


def _entries(datalist_path: Path) -> list[dict[str, str]]:
    datalist = json.loads(datalist_path.read_text())
    return datalist["training"] + datalist["validation"] + datalist["test"]


def _arrays(
    datalist_path: Path, entry: dict[str, str]
) -> tuple[nib.Nifti1Image, np.ndarray, nib.Nifti1Image, np.ndarray]:
    image = nib.load(datalist_path.parent / entry["image"])
    label = nib.load(datalist_path.parent / entry["label"])
    return image, np.asarray(image.dataobj), label, np.asarray(label.dataobj)


def test_datalist_sections_and_relative_paths_resolve(built: Path) -> None:
    datalist = json.loads(built.read_text())
    assert built.name == DATALIST_NAME
    assert [len(datalist[section]) for section in ("training", "validation", "test")] == [2, 1, 1]
    assert datalist["labels"] == {"0": "background", "1": "CSF", "2": "grey matter", "3": "white matter"}
    assert datalist["dca_monai_build"]["spacing"] == 4.0
    for entry in _entries(built):
        for key in ("image", "label"):
            assert not Path(entry[key]).is_absolute()
            assert (built.parent / entry[key]).is_file()
    images = {entry["image"] for entry in _entries(built)}
    assert len(images) == 4, "training, validation and test cases must be separate files"


def test_image_and_label_share_shape_and_affine(built: Path) -> None:
    for entry in _entries(built):
        image, image_data, label, label_data = _arrays(built, entry)
        assert image_data.ndim == 3 and image_data.shape == label_data.shape
        np.testing.assert_allclose(image.affine, label.affine)
        np.testing.assert_allclose(np.linalg.norm(image.affine[:3, :3], axis=0), [4.0, 4.0, 4.0])
        assert image_data.dtype == np.int16 and label_data.dtype == np.uint8


def test_labels_are_the_four_tissue_classes_in_plausible_proportions(built: Path) -> None:
    for entry in _entries(built):
        _, image_data, _, label_data = _arrays(built, entry)
        assert set(np.unique(label_data).tolist()) == {0, 1, 2, 3}
        brain = np.count_nonzero(label_data)
        fractions = [np.count_nonzero(label_data == value) / brain for value in (1, 2, 3)]
        assert 0.08 < fractions[0] < 0.45, f"CSF fraction {fractions[0]:.3f}"
        assert 0.25 < fractions[1] < 0.7, f"GM fraction {fractions[1]:.3f}"
        assert 0.15 < fractions[2] < 0.5, f"WM fraction {fractions[2]:.3f}"
        # T1 contrast: white matter brighter than grey matter, grey matter brighter than CSF
        means = [image_data[label_data == value].mean() for value in (1, 2, 3)]
        assert means[0] < means[1] < means[2]
        # skull-stripped like a real scan: exactly zero outside the brain, non-zero inside
        assert not image_data[label_data == 0].any()
        assert np.count_nonzero(image_data[label_data > 0] == 0) < 0.001 * brain
        # the deformed brain stays inside the volume: no label on its six faces
        for axis in range(3):
            assert not np.take(label_data, [0, -1], axis=axis).any()


def test_csf_surrounds_the_brain_as_in_a_mask_that_keeps_extra_cerebral_csf(built: Path) -> None:
    outer = []
    for entry in _entries(built):
        label_data = _arrays(built, entry)[3]
        brain = label_data > 0
        surface = brain & ~ndimage.binary_erosion(brain)
        outer.append(np.count_nonzero(label_data[surface] == 1) / np.count_nonzero(surface))
    # the template's own rim of CSF covers about 40% of its surface; a case whose 0-6 mm shell reaches the next
    # 4 mm voxel is wrapped in CSF (the seeded SMALL build has one such case)
    assert min(outer) > 0.2 and max(outer) > 0.9, (
        f"CSF share of the brain's outer surface per case: {np.round(outer, 2)}"
    )


def test_synthetic_fraction_chooses_the_training_images_only(built: Path, tmp_path: Path) -> None:
    synthetic = build_brain_dataset(tmp_path / "synthetic", **SMALL, synthetic_fraction=1.0)
    template = build_brain_dataset(tmp_path / "template", **SMALL, synthetic_fraction=0.0)
    for section in ("training", "validation", "test"):
        entry = json.loads(built.read_text())[section][0]
        same = (synthetic.parent / entry["image"]).read_bytes() == (template.parent / entry["image"]).read_bytes()
        assert same == (section != "training"), section
        # the labels do not depend on the image: the same anatomy under either intensity model
        assert (synthetic.parent / entry["label"]).read_bytes() == (template.parent / entry["label"]).read_bytes()


def _outer_csf_share(label: np.ndarray) -> float:
    """CSF share of the labelled volume's outermost voxel layer."""
    brain = label > 0
    outer = brain & ~ndimage.binary_erosion(brain)
    return float(np.mean(label[outer] == 1))


def test_shell_free_cases_have_no_csf_shell_and_the_rest_are_unchanged(built: Path, tmp_path: Path) -> None:
    shell_free = build_brain_dataset(tmp_path / "free", **SMALL, shell_free_fraction=1.0)
    build = json.loads(shell_free.read_text())["dca_monai_build"]
    assert build["shell_free_fraction"] == 1.0 and build["sulcal_weight_range"] == [0.35, 0.65]
    for entry in _entries(built):
        free, shelled = _arrays(shell_free, entry)[3], _arrays(built, entry)[3]
        # without the shell the outer surface is mostly grey matter; the template's brain is the same
        assert _outer_csf_share(free) < 0.5, entry["label"]
        assert np.count_nonzero(free) <= np.count_nonzero(shelled)
    # the default (no shell-free case) keeps the format 3 build record, so earlier datalists stay valid
    assert "shell_free_fraction" not in json.loads(built.read_text())["dca_monai_build"]


def test_sulcal_weight_range_moves_dark_grey_matter_to_csf(tmp_path: Path) -> None:
    low = build_brain_dataset(tmp_path / "low", **SMALL, sulcal_weight_range=(0.0, 0.0), shell_free_fraction=1.0)
    high = build_brain_dataset(tmp_path / "high", **SMALL, sulcal_weight_range=(0.8, 0.8), shell_free_fraction=1.0)
    for entry in _entries(low):
        low_label, high_label = _arrays(low, entry)[3], _arrays(high, entry)[3]
        assert np.count_nonzero(high_label == 1) > 1.5 * np.count_nonzero(low_label == 1), entry["label"]


def test_cases_differ_from_each_other(built: Path) -> None:
    cases = [_arrays(built, entry) for entry in _entries(built)]
    for first in range(len(cases)):
        for second in range(first + 1, len(cases)):
            assert not np.array_equal(cases[first][1], cases[second][1])
            assert not np.array_equal(cases[first][3], cases[second][3])


def test_same_seed_gives_identical_files_and_another_seed_different_ones(built: Path, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(3 - min(threads, 2))  # the bytes must not depend on the thread count
    try:
        again = build_brain_dataset(tmp_path / "again", **SMALL)
        assert torch.get_num_threads() == 3 - min(threads, 2)
    finally:
        torch.set_num_threads(threads)
    for entry in _entries(built):
        for key in ("image", "label"):
            assert (again.parent / entry[key]).read_bytes() == (built.parent / entry[key]).read_bytes()
    assert again.read_bytes() == built.read_bytes()
    other = build_brain_dataset(tmp_path / "other", **{**SMALL, "num_train": 1, "num_val": 0, "num_test": 0, "seed": 1})
    name = _entries(built)[0]["image"]
    assert (other.parent / name).read_bytes() != (built.parent / name).read_bytes()


def test_writing_leaves_no_temporary_files(built: Path) -> None:
    names = [path.name for path in built.parent.rglob("*")]
    assert not [name for name in names if name.startswith(".") or name.endswith(".tmp")]


def test_matching_datalist_is_not_rebuilt(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(spacing: float) -> None:
        raise AssertionError("rebuilt although the datalist matches")

    monkeypatch.setattr(brain_dataset, "_base_case", fail)
    modified = built.stat().st_mtime_ns
    assert build_brain_dataset(built.parent, **SMALL) == built
    assert built.stat().st_mtime_ns == modified
    with pytest.raises(AssertionError, match="rebuilt"):
        build_brain_dataset(built.parent, **SMALL, overwrite=True)
    with pytest.raises(AssertionError, match="rebuilt"):
        build_brain_dataset(built.parent, **{**SMALL, "seed": 3})


def test_interrupted_build_leaves_no_datalist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = []

    def fail_on_third(array: np.ndarray, affine: np.ndarray) -> bytes:
        written.append(array.shape)
        if len(written) == 3:
            raise OSError("disk full")
        return b"not a real nifti"

    monkeypatch.setattr(brain_dataset, "nifti_gz_bytes", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        build_brain_dataset(tmp_path, **SMALL)
    assert not (tmp_path / DATALIST_NAME).exists()
    assert [path.name for path in (tmp_path / "images").iterdir()] == ["train_000.nii.gz"]
    assert [path.name for path in (tmp_path / "labels").iterdir()] == ["train_000.nii.gz"]


@pytest.mark.parametrize(
    "argument, value, expected",
    [
        ("num_train", 0, "num_train=0 but an int >= 1"),
        ("num_val", -1, "num_val=-1 but an int >= 0"),
        ("seed", 1.5, "seed=1.5 but an int >= 0"),
        ("spacing", 1.0, r"spacing=1.0 but a value in \[1.5, 8\] mm"),
        ("synthetic_fraction", 1.5, r"synthetic_fraction=1.5 but a number in \[0, 1\]"),
        ("shell_free_fraction", -0.1, r"shell_free_fraction=-0.1 but a number in \[0, 1\]"),
        ("sulcal_weight_range", (0.6, 0.4), r"sulcal_weight_range=\(0.6, 0.4\) but \(low, high\) with 0 <= low"),
        ("sulcal_weight_range", 0.5, r"sulcal_weight_range=0.5 but \(low, high\)"),
    ],
)
def test_invalid_arguments_are_named(tmp_path: Path, argument: str, value: object, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        build_brain_dataset(tmp_path, **{**SMALL, argument: value})


ARGUMENTS = ["--num-train", "2", "--num-val", "1", "--num-test", "1", "--spacing", "4", "--seed", "0"]


def test_main_prints_the_datalist_path(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert brain_dataset.main(["--output-dir", str(built.parent), *ARGUMENTS]) == 0
    assert capsys.readouterr().out.strip() == str(built)


def test_main_rejects_invalid_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        brain_dataset.main(["--output-dir", str(tmp_path), "--num-train", "0"])
    assert exit_info.value.code == 2
    assert "num_train=0" in capsys.readouterr().err


@pytest.mark.slow
def test_module_runs_as_a_command(built: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dca_monai.apps.brain_dataset", "--output-dir", str(built.parent), *ARGUMENTS],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(built)
    # the package imports its modules lazily, so runpy does not find this one already imported
    assert "RuntimeWarning" not in result.stderr
