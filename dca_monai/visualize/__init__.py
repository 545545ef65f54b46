"""Figures of images and segmentations, written with Pillow (no matplotlib)."""

from __future__ import annotations

from dca_monai.visualize.label_overlay import DEFAULT_PALETTE, label_overlay_figure, save_label_overlay

__all__ = ["DEFAULT_PALETTE", "label_overlay_figure", "save_label_overlay"]
