"""The two bundles as test cases: what their shared end-to-end contracts need to know about each.

``tests/bundles/test_bundle_contract.py`` runs every contract over :data:`CASES`; the per-bundle
modules (``test_brain_mri_bundle.py``, ``test_ct_bundle.py``) take :data:`BRAIN` or :data:`CT`. A
difference between the bundles is a field here, not a branch on the bundle's name in a test.

Both cases are CI-sized: filters ``[4, 4, 8, 8, 8]``, 32^3 patches, 1-2 epochs and a few small cases.

- brain (``brain_mri_dca_segmentation``): the demo dataset at 4 mm with 2 training, 1 validation and
  1 test case, built by :func:`dca_monai.apps.brain_dataset.build_brain_dataset` with the arguments the bundle's own
  ``demo_dataset`` component gets from the overrides, so the bundle finds it built and
  reuses it.
- ct (``ct_dca_segmentation``): a template for the user's own CT data, so the tests build such data
  from the real CT files that ship with pydicom: NIfTI volumes stacked from resampled, rotated and
  scaled copies of ``CT_small.dcm`` (an axial slice through a vertebra), stored in two orientations and
  voxel sizes, and a training case that is a folder of three slices of a real CT series (``CT2``). The
  2-class task is bone (>= 200 HU) against everything else, at 3 mm voxels.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import nibabel as nib
import numpy as np
import pydicom
import pydicom.data
import torch
import torch.nn.functional as F
from monai.transforms import LoadImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from dca_monai.apps.brain_dataset import build_brain_dataset
from dca_monai.nets import DCADynUNet
from tests.bundles.bundle_runner import BundleRun, bundle_network, config_files, run_bundle

__all__ = [
    "BRAIN",
    "CASES",
    "CHECKPOINT_KEYS",
    "CT",
    "CT2_SLICES",
    "CT5N_SERIES",
    "BundleCase",
    "DicomInput",
    "Evaluation",
    "MadeOnce",
    "WeightsFile",
    "absolute_datalist",
    "assert_fails_before_training",
    "build_ct_dataset",
    "copy_series",
    "write_dicom_series",
]

CHECKPOINT_KEYS = {"network", "optimizer", "lr_scheduler", "trainer", "best_model_record", "random_state"}
FILTERS = [4, 4, 8, 8, 8]


@dataclass(frozen=True)
class Evaluation:
    """An evaluation run: the datalist ``section`` it scores (``eval_section``) and the image file names in it."""

    section: str
    cases: tuple[str, ...]


@dataclass(frozen=True)
class DicomInput:
    """A DICOM series folder to run inference on, and the spatial shape ``(X, Y, Z)`` its label map must have."""

    folder: Path
    shape: tuple[int, ...]


@dataclass(frozen=True)
class WeightsFile:
    """Where a training run leaves the network's weights: ``path`` under the bundle root, ``key`` in it if any."""

    path: str
    key: str | None = None

    def load(self, bundle_root: Path) -> dict[str, torch.Tensor]:
        """The state dict stored at ``bundle_root / path`` (under ``key`` when set)."""
        stored = torch.load(bundle_root / self.path, weights_only=True)
        return stored if self.key is None else stored[self.key]


@dataclass(frozen=True)
class BundleCase:
    """One bundle and its CI-sized test setup.

    Attributes:
        name: the test id (``"brain"``, ``"ct"``).
        bundle: the bundle's folder under ``bundles/``.
        num_classes: output channels of ``network_def``, background included.
        build_dataset: writes the CI dataset (images, labels, ``datalist.json``) into an empty folder.
        model_overrides: ids every command gets (spacing, network size, the demo dataset's arguments).
        training_overrides: ids the training commands add (epochs, batch size, ...).
        iterations_per_epoch: trainer iterations per epoch of one process on the training section.
        ddp_iterations_per_epoch: the same for each of two processes (the section split between them).
        evaluation: what ``evaluate.json`` scores in one process.
        ddp_evaluation: what ``multi_gpu_evaluate.json`` scores split over two processes.
        nifti_input: ``(dataset_dir, tmp_path) -> path`` of a NIfTI scan on another grid than the network's.
        dicom_input: ``(dataset_dir, tmp_path) -> DicomInput``, a DICOM series folder made under ``tmp_path``.
        dicom_seg_segments: segment labels of the DICOM SEG written next to a DICOM input's label map;
            empty when the bundle writes none.
        dca_off_overrides: ids added to :meth:`train_overrides` for the training run without DCA.
        dca_off_weights: where that run leaves the network's weights.
        datalist_root: ``(dataset_dir, datalist_file) -> folder`` that relative paths in a datalist given
            with ``--datalist`` resolve against.
    """

    name: str
    bundle: str
    num_classes: int
    build_dataset: Callable[[Path], None]
    model_overrides: Mapping[str, object]
    training_overrides: Mapping[str, object]
    iterations_per_epoch: int
    ddp_iterations_per_epoch: int
    evaluation: Evaluation
    ddp_evaluation: Evaluation
    nifti_input: Callable[[Path, Path], Path]
    dicom_input: Callable[[Path, Path], DicomInput]
    dicom_seg_segments: tuple[str, ...]
    dca_off_overrides: Mapping[str, object]
    dca_off_weights: WeightsFile
    datalist_root: Callable[[Path, Path], Path]

    def configs(self, *names: str) -> str:
        """The ``--config_file`` value for configs of this bundle merged in order."""
        return config_files(self.bundle, *names)

    @property
    def epochs(self) -> int:
        """Epochs of the default training command."""
        return int(self.training_overrides["epochs"])  # type: ignore[call-overload]

    @property
    def label_values(self) -> set[int]:
        """The values a predicted label map may hold."""
        return set(range(self.num_classes))

    @property
    def metric_header(self) -> str:
        """The header of a per-case metric CSV: one column per class, background excluded, then the mean."""
        return ",".join(["filename", *(f"class{index}" for index in range(self.num_classes - 1)), "mean"])

    def overrides(self, bundle_root: Path, **extra: object) -> dict[str, object]:
        """``bundle_root``, :attr:`model_overrides` and ``extra``: what an evaluation or inference command gets."""
        return {"bundle_root": bundle_root, **self.model_overrides, **extra}

    def train_overrides(self, dataset_dir: Path, bundle_root: Path, **extra: object) -> dict[str, object]:
        """What a training command gets: :meth:`overrides` with ``dataset_dir`` and :attr:`training_overrides`."""
        return self.overrides(bundle_root, dataset_dir=dataset_dir, **{**self.training_overrides, **extra})

    def network(self, dca: bool = True) -> DCADynUNet:
        """The CI-sized ``network_def`` of this bundle."""
        return bundle_network(self.num_classes, FILTERS, dca=dca)


T = TypeVar("T")


class MadeOnce(Generic[T]):
    """``make(case, *options)``, called once per case name and options, then remembered (the session fixtures)."""

    def __init__(self, make: Callable[..., T]) -> None:
        self.make = make
        self.made: dict[tuple[Hashable, ...], T] = {}

    def __call__(self, case: BundleCase, *options: Hashable) -> T:
        key = (case.name, *options)
        if key not in self.made:
            self.made[key] = self.make(case, *options)
        return self.made[key]


def absolute_datalist(dataset_dir: Path) -> dict[str, Any]:
    """``dataset_dir/datalist.json`` with every image and label path made absolute, to edit and write elsewhere."""
    datalist = json.loads((dataset_dir / "datalist.json").read_text())
    for section in ("training", "validation", "test"):
        for entry in datalist.get(section, []):
            for key in ("image", "label"):
                if key in entry:
                    entry[key] = str(dataset_dir / entry[key])
    return datalist


def assert_fails_before_training(
    case: BundleCase,
    dataset_dir: Path,
    tmp_path: Path,
    datalist: Mapping[str, Any],
    expected: str,
    **extra: object,
) -> BundleRun:
    """Train on ``datalist`` (written to ``tmp_path/datalist.json``) and check that the datalist check stops it.

    The command must fail with a ``DatalistError`` holding ``expected`` before any epoch, and write nothing
    under its bundle root (``tmp_path/run``).
    """
    (tmp_path / "datalist.json").write_text(json.dumps(datalist))
    overrides = case.train_overrides(dataset_dir, tmp_path / "run", datalist=tmp_path / "datalist.json", **extra)
    result = run_bundle("run", "--config_file", case.configs("train.json"), overrides=overrides)

    assert result.returncode != 0
    assert "DatalistError" in result.output
    assert expected in result.output
    assert "Epoch" not in result.output
    assert not (tmp_path / "run").exists()
    return result


# --- brain --------------------------------------------------------------------------------------------------------

BRAIN_DATA = {"pixdim": 4.0, "num_train": 2, "num_val": 1, "num_test": 1}


def build_brain_demo(folder: Path) -> None:
    """The demo dataset with the arguments :data:`BRAIN_DATA` gives the bundle's ``demo_dataset``."""
    build_brain_dataset(folder, num_train=2, num_val=1, num_test=1, spacing=4.0)


def reoriented_brain_scan(dataset_dir: Path, tmp_path: Path) -> Path:
    """The test scan in another orientation and voxel size than the network's 4 mm RAS."""
    source = nib.load(dataset_dir / "images" / "test_000.nii.gz")
    affine = np.diag([-3.5, 4.0, 4.5, 1.0])
    affine[:3, 3] = (80.0, -120.0, -90.0)
    nib.save(nib.Nifti1Image(np.asanyarray(source.dataobj), affine), tmp_path / "subject.nii.gz")
    return tmp_path / "subject.nii.gz"


def write_dicom_series(nifti: Path, folder: Path) -> None:
    """One MR DICOM file per slice along the third axis of ``nifti``, geometry taken from its affine."""
    image = nib.load(nifti)
    data = np.asanyarray(image.dataobj).astype(np.int16)
    lps = np.diag([-1.0, -1.0, 1.0])  # DICOM patient coordinates are LPS, NIfTI's RAS
    axes = lps @ image.affine[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    folder.mkdir(parents=True)
    for k in range(data.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientName, ds.PatientID = "MR", "Demo^Brain", "demo"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in lps @ (image.affine @ [0, 0, k, 1])[:3]]
        directions = (*(axes[:, 0] / spacing[0]), *(axes[:, 1] / spacing[1]))  # along a row (i), down a column (j)
        ds.ImageOrientationPatient = [round(float(v), 6) for v in directions]
        ds.PixelSpacing = [round(float(spacing[1]), 4), round(float(spacing[0]), 4)]
        ds.SliceThickness = round(float(spacing[2]), 4)
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(data[:, :, k].T).tobytes()  # rows follow j, columns i
        if int(pydicom.__version__.split(".")[0]) >= 3:
            ds.save_as(folder / f"slice_{k:03d}.dcm", enforce_file_format=True)
        else:
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.save_as(folder / f"slice_{k:03d}.dcm", write_like_original=False)


def brain_dicom_series(dataset_dir: Path, tmp_path: Path) -> DicomInput:
    """The test scan written as an MR series, one file per slice: its label map has the scan's shape."""
    scan = dataset_dir / "images" / "test_000.nii.gz"
    write_dicom_series(scan, tmp_path / "series_001")
    return DicomInput(tmp_path / "series_001", nib.load(scan).shape)


BRAIN = BundleCase(
    name="brain",
    bundle="brain_mri_dca_segmentation",
    num_classes=4,  # background, CSF, grey matter, white matter
    build_dataset=build_brain_demo,
    model_overrides={**BRAIN_DATA, "filters": FILTERS, "roi_size": [32, 32, 32], "sw_batch_size": 2},
    training_overrides={"epochs": 2, "val_interval": 1, "num_samples": 1, "batch_size": 2, "num_workers": 0},
    iterations_per_epoch=1,  # 1 batch of the 2 training cases
    ddp_iterations_per_epoch=1,  # each rank trains on its own training case
    # the single validation case cannot be split over 2 processes: they score the 2 training cases
    evaluation=Evaluation("test", ("test_000.nii.gz",)),
    ddp_evaluation=Evaluation("training", ("train_000.nii.gz", "train_001.nii.gz")),
    nifti_input=reoriented_brain_scan,
    dicom_input=brain_dicom_series,
    dicom_seg_segments=(),
    dca_off_overrides={},  # the schedule of scripts/demo.py --quick, whose test scores this run
    dca_off_weights=WeightsFile("models/model.pt"),
    datalist_root=lambda dataset_dir, datalist: datalist.parent,  # the bundle's data_dir
)


# --- ct -----------------------------------------------------------------------------------------------------------

PYDICOM_FILES = Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False)).parent
CT_SLICE = PYDICOM_FILES / "CT_small.dcm"
# three contiguous slices (1.25 mm apart) of a real CT series; the series' fourth file lies 200 mm away
CT2_SLICES = [PYDICOM_FILES / "dicomdirtests" / "77654033" / "CT2" / name for name in ("17136", "17166", "17196")]
# a whole real CT series: 5 slices, 2.5 mm apart
CT5N_SERIES = PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT5N"
BONE_HU = 200


def hounsfield_slice() -> np.ndarray:
    """``CT_small.dcm`` in Hounsfield units, ``(rows, columns)`` = 128 x 128 at 0.66 mm."""
    dataset = pydicom.dcmread(CT_SLICE)
    return dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)


def stacked_volume(rng: np.random.Generator, size: int, num_slices: int) -> np.ndarray:
    """A CT volume ``(columns, rows, slices)`` in HU, stored as DICOM does: the slice turned, scaled, shifted.

    The field of view stays that of the slice (84.7 mm), sampled on ``size`` x ``size`` pixels; each
    case draws its own turn, scale and shift, and along the stack the slice twists and shrinks
    towards both ends, so the anatomy changes from slice to slice. Outside the slice is air.
    """
    source = torch.as_tensor(hounsfield_slice() + 1000.0, dtype=torch.float32)[None, None]
    angle0, twist = rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.4)
    scale0, shift = rng.uniform(0.85, 1.1), rng.uniform(-0.1, 0.1, size=2)
    thetas = []
    for k in range(num_slices):
        t = 2.0 * k / (num_slices - 1) - 1.0
        scale = scale0 * (1.0 - 0.3 * t * t)
        angle = angle0 + twist * t
        cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
        thetas.append([[cos, -sin, shift[0]], [sin, cos, shift[1]]])
    theta = torch.tensor(thetas, dtype=torch.float32)
    grid = F.affine_grid(theta, [num_slices, 1, size, size], align_corners=False)
    slices = F.grid_sample(source.expand(num_slices, -1, -1, -1), grid, align_corners=False)[:, 0] - 1000.0
    volume = slices.permute(2, 1, 0).numpy()  # (slice, row, column) -> (column i, row j, slice k)
    return volume + rng.normal(0.0, 10.0, volume.shape)


def write_case(folder: Path, name: str, seed: int, size: int, num_slices: int, slice_mm: float, lps: bool) -> None:
    """``images/NAME.nii.gz`` (int16 HU) and ``labels/NAME.nii.gz`` (bone, uint8) on one grid.

    ``lps``: store as DICOM does (i to the patient's left, j to posterior), else flipped to RAS.
    """
    volume = stacked_volume(np.random.default_rng(seed), size, num_slices)
    pixel_mm = 0.661468 * 128 / size
    affine = np.diag([-pixel_mm, -pixel_mm, slice_mm, 1.0])
    affine[:3, 3] = (40.0, 42.0, -70.0 + 3.0 * seed)
    if not lps:  # the same voxels in the same places, stored along +x and +y
        volume = volume[::-1, ::-1].copy()
        affine[:2, :2] = -affine[:2, :2]
        affine[:2, 3] -= pixel_mm * (size - 1)
    label = (volume >= BONE_HU).astype(np.uint8)
    for kind, array in (("images", np.round(volume).astype(np.int16)), ("labels", label)):
        (folder / kind).mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(array, affine), folder / kind / f"{name}.nii.gz")


def copy_series(sources: list[Path], folder: Path) -> Path:
    """Copy DICOM files into a new ``folder`` (named ``SERIES_FILE.dcm``) and return it."""
    folder.mkdir(parents=True)
    for source in sources:
        shutil.copy(source, folder / f"{source.parent.name}_{source.name}.dcm")
    return folder


def write_series_label(series: Path, label: Path) -> None:
    """A bone label NIfTI on the grid MONAI's default reader (ITK) gives the DICOM series folder."""
    image = LoadImage(image_only=True)(str(series))
    label.parent.mkdir(exist_ok=True)
    nib.save(nib.Nifti1Image((np.asarray(image) >= BONE_HU).astype(np.uint8), np.asarray(image.affine)), label)


def build_ct_dataset(folder: Path) -> None:
    """The user's data: 2 NIfTI + 1 DICOM training cases, 2 validation and 1 test NIfTI cases, and the datalist."""
    cases = {
        "train_000": dict(seed=0, size=32, num_slices=12, slice_mm=4.0, lps=True),
        "train_001": dict(seed=1, size=28, num_slices=16, slice_mm=3.0, lps=False),
        "val_000": dict(seed=2, size=32, num_slices=12, slice_mm=4.0, lps=True),
        "val_001": dict(seed=3, size=30, num_slices=14, slice_mm=3.5, lps=False),
        "test_000": dict(seed=4, size=32, num_slices=12, slice_mm=4.0, lps=True),
    }
    for name, geometry in cases.items():
        write_case(folder, name, **geometry)
    copy_series(CT2_SLICES, folder / "dicom" / "train_002")
    write_series_label(folder / "dicom" / "train_002", folder / "labels" / "train_002.nii.gz")

    def entry(name: str, image: str | None = None) -> dict[str, str]:
        return {"image": image or f"images/{name}.nii.gz", "label": f"labels/{name}.nii.gz"}

    datalist = {
        "training": [entry("train_000"), entry("train_001"), entry("train_002", "dicom/train_002")],
        "validation": [entry("val_000"), entry("val_001")],
        "test": [{"image": "images/test_000.nii.gz"}],
    }
    (folder / "datalist.json").write_text(json.dumps(datalist, indent=4))


def ct_series_5n(dataset_dir: Path, tmp_path: Path) -> DicomInput:
    """A copy of the real 5-slice CT series ``CT5N`` (16 x 16 pixels)."""
    return DicomInput(copy_series(sorted(CT5N_SERIES.iterdir()), tmp_path / "series_5n"), (16, 16, 5))


CT = BundleCase(
    name="ct",
    bundle="ct_dca_segmentation",
    num_classes=2,  # background, bone
    build_dataset=build_ct_dataset,
    model_overrides={
        "num_classes": 2,
        "segment_names": ["class 1"],
        "filters": FILTERS,
        "roi_size": [32, 32, 32],
        "sw_batch_size": 2,
        "pixdim": [3.0, 3.0, 3.0],
    },
    training_overrides={
        "epochs": 1,
        "val_interval": 1,
        "num_samples": 1,
        "batch_size": 2,
        "num_workers": 0,
        "finetune": False,  # from scratch: the shipped 6-organ weights do not fit the CI network
    },
    iterations_per_epoch=2,  # 3 training cases in batches of 2
    ddp_iterations_per_epoch=1,  # 3 cases padded to 2 per rank, one batch of 2
    evaluation=Evaluation("validation", ("val_000.nii.gz", "val_001.nii.gz")),
    ddp_evaluation=Evaluation("validation", ("val_000.nii.gz", "val_001.nii.gz")),
    # stored LPS at 2.65 x 2.65 x 4 mm, the network works at 3 mm RAS
    nifti_input=lambda dataset_dir, tmp_path: dataset_dir / "images" / "test_000.nii.gz",
    dicom_input=ct_series_5n,
    dicom_seg_segments=("class 1",),
    dca_off_overrides={"val_interval": 2},  # no validation in this run, so the last state holds the weights
    dca_off_weights=WeightsFile("checkpoints/last.pt", "network"),
    datalist_root=lambda dataset_dir, datalist: dataset_dir,  # the bundle resolves datalist entries there
)

CASES = (BRAIN, CT)
