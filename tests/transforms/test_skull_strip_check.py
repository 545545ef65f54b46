from __future__ import annotations

import logging

import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImaged

from dca_monai.apps.colin27 import colin27_path
from dca_monai.transforms import SkullStripCheckd, bright_volume_ml

LOGGER = "dca_monai.transforms.skull_strip_check"


@pytest.mark.parametrize(("name", "warned"), [("t1", True), ("brain", False)])
def test_colin27_with_skull_warns_and_skull_stripped_does_not(
    name: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    data = LoadImaged("image", ensure_channel_first=True, image_only=True)({"image": str(colin27_path(name))})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        output = SkullStripCheckd("image")(data)
    assert output["image"] is data["image"]  # the data pass unchanged
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    if warned:
        assert len(messages) == 1
        assert messages[0].startswith(f"{colin27_path('t1')} does not look skull-stripped: ")
    else:
        assert messages == []


def test_bright_volume_follows_the_voxel_size() -> None:
    image = torch.zeros(20, 20, 20)
    image[5:15, 5:15, 5:15] = 100.0  # 1000 voxels
    assert bright_volume_ml(image, voxel_ml=0.001) == pytest.approx(1.0)
    assert bright_volume_ml(image, voxel_ml=0.008) == pytest.approx(8.0)
    assert bright_volume_ml(torch.zeros(4, 4, 4), voxel_ml=1.0) == 0.0


def test_threshold_and_file_name_in_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    image = MetaTensor(torch.ones(1, 10, 10, 10), affine=torch.diag(torch.tensor([4.0, 4.0, 4.0, 1.0])))
    image.meta["filename_or_obj"] = "/data/head.nii.gz"  # 1000 voxels of 64 uL: 64 mL
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        SkullStripCheckd("image", max_brain_ml=100.0)({"image": image})
        SkullStripCheckd("image", max_brain_ml=50.0)({"image": image})
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert len(messages) == 1
    assert messages[0].startswith("/data/head.nii.gz does not look skull-stripped: 64 mL")
