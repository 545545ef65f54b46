from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from dca_monai.transforms import BACKGROUND_VALUE, NormalizeForeground, NormalizeForegroundd


def brain(scale: float = 1.0, offset: float = 0.0) -> torch.Tensor:
    """(1, 12, 12, 12): a cube of tissue values in [50, 150) * scale + offset, zero around it."""
    image = torch.zeros(1, 12, 12, 12)
    generator = torch.Generator().manual_seed(0)
    image[:, 3:9, 3:9, 3:9] = (50 + 100 * torch.rand(1, 6, 6, 6, generator=generator)) * scale + offset
    return image


def test_foreground_has_zero_mean_unit_variance_and_background_the_fixed_value() -> None:
    output = NormalizeForeground()(brain())
    inside = output[:, 3:9, 3:9, 3:9]
    assert inside.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert inside.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    outside = output.clone()
    outside[:, 3:9, 3:9, 3:9] = BACKGROUND_VALUE
    assert torch.all(outside == BACKGROUND_VALUE)
    assert inside.min().item() > BACKGROUND_VALUE + 2  # tissue never looks like background


def test_intensity_scale_does_not_change_the_output() -> None:
    torch.testing.assert_close(NormalizeForeground(-4.0)(brain(scale=37.0)), NormalizeForeground(-4.0)(brain()))


def test_negative_ringing_and_constant_background_count_as_background() -> None:
    ringing = brain()
    ringing[0, 0, 0, :3] = torch.tensor([-0.5, -0.1, -0.2])
    constant = torch.where(brain() > 0, brain(), torch.tensor(7.0))
    expected = NormalizeForeground()(brain())
    torch.testing.assert_close(NormalizeForeground()(ringing), expected)
    torch.testing.assert_close(NormalizeForeground()(constant), expected)


def test_constant_image_is_all_background_and_metadata_survives() -> None:
    image = MetaTensor(torch.full((1, 4, 4, 4), 3.0), affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    output = NormalizeForegroundd("image", background=-2.0)({"image": image})["image"]
    assert isinstance(output, MetaTensor) and output.dtype == torch.float32
    assert torch.all(output == -2.0)
    torch.testing.assert_close(output.affine, image.affine)


def test_an_image_without_channel_axis_is_refused() -> None:
    with pytest.raises(ValueError, match=r"image has shape \(5,\); expected \(C, \*S\)"):
        NormalizeForeground()(torch.ones(5))
