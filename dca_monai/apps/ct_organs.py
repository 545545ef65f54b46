"""The organs of the embedded CT dataset: their TotalSegmentator names and their SNOMED CT codes.

Class ``i`` (1-based, 0 is background) of the dataset is ``CT_ORGANS[i - 1]``. The organs are those
both TotalSegmentator example patients show in quantity: the DICOM patient's 40 mm slab through the
upper abdomen holds neither kidney, so the kidneys are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CT_ORGANS", "CTOrgan", "ct_class_names"]


@dataclass(frozen=True)
class CTOrgan:
    """One organ class.

    Attributes:
        name: the structure name in TotalSegmentator's ``class_map["total"]``.
        label: a human-readable name, used as the DICOM SEG segment label.
        snomed: ``(code value, code meaning)`` in SNOMED CT, the DICOM SEG segmented property type.
    """

    name: str
    label: str
    snomed: tuple[str, str]


CT_ORGANS = (
    CTOrgan("liver", "Liver", ("10200004", "Liver")),
    CTOrgan("spleen", "Spleen", ("78961009", "Spleen")),
    CTOrgan("stomach", "Stomach", ("69695003", "Stomach")),
    CTOrgan("aorta", "Aorta", ("15825003", "Aorta")),
    CTOrgan("inferior_vena_cava", "Inferior vena cava", ("64131007", "Inferior vena cava")),
)


def ct_class_names() -> list[str]:
    """Class names with background first: ``["background", "liver", ..., "inferior_vena_cava"]``."""
    return ["background", *(organ.name for organ in CT_ORGANS)]
