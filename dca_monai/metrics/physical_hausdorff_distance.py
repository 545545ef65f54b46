"""Hausdorff distance in the images' physical units (mm), voxel spacing read from each affine."""

from __future__ import annotations

from typing import Any

import torch
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.metrics import HausdorffDistanceMetric

__all__ = ["PhysicalHausdorffDistanceMetric", "batch_spacing"]


class PhysicalHausdorffDistanceMetric(HausdorffDistanceMetric):
    """:class:`~monai.metrics.HausdorffDistanceMetric` measured with each item's voxel spacing.

    MONAI's metric takes a ``spacing`` keyword, but its ignite handler never passes one, so the
    distance comes out in voxels: on an anisotropic grid (e.g. 1.5 x 1.5 x 2.0 mm) no single factor
    converts it to mm. This metric reads the spacing of every batch item from the affine of ``y``
    (the reference, a :class:`~monai.data.MetaTensor` as MONAI's loaders produce it), falling back
    to ``y_pred``'s; an explicit ``spacing=`` keyword still wins. Its Ignite handler is
    :class:`dca_monai.handlers.PhysicalHausdorffDistance`.

    Args:
        include_background, distance_metric, percentile, directed, reduction, get_not_nans: as
            :class:`~monai.metrics.HausdorffDistanceMetric`.

    Raises:
        ValueError: when neither ``y`` nor ``y_pred`` is a ``MetaTensor`` with an affine and no
            ``spacing`` is given.
    """

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:  # type: ignore[override]
        if kwargs.get("spacing") is None:
            kwargs["spacing"] = batch_spacing(y if isinstance(y, MetaTensor) else y_pred, y_pred.ndim - 2)
        return super()._compute_tensor(y_pred, y, **kwargs)


def batch_spacing(tensor: torch.Tensor, spatial_dims: int) -> list[list[float]]:
    """The voxel spacing of every item of a batch ``(B, C, *S)``, from its affine: ``B`` lists of ``spatial_dims``.

    Raises:
        ValueError: when ``tensor`` is not a ``MetaTensor``.
    """
    if not isinstance(tensor, MetaTensor):
        raise ValueError(
            f"y and y_pred are {type(tensor).__name__}s but a MetaTensor with an affine was expected to read "
            "the voxel spacing from; pass spacing= or keep the loader's metadata"
        )
    affine = torch.as_tensor(tensor.affine, dtype=torch.float64)
    affines = affine.reshape(-1, *affine.shape[-2:])
    if affines.shape[0] == 1:
        affines = affines.expand(tensor.shape[0], -1, -1)
    return [affine_to_spacing(item, r=spatial_dims).tolist() for item in affines]
