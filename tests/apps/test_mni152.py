from __future__ import annotations

import numpy as np
import pytest

from dca_monai.apps.mni152 import MNI152_TEMPLATE_FILES, load_mni152_templates, mni152_template_path


@pytest.mark.parametrize("name", sorted(MNI152_TEMPLATE_FILES))
def test_template_is_found_in_the_installed_nilearn(name: str) -> None:
    path = mni152_template_path(name)
    assert path.is_file() and path.name == MNI152_TEMPLATE_FILES[name]
    assert path.parent.parts[-3:] == ("nilearn", "datasets", "data")


def test_unknown_template_is_named() -> None:
    with pytest.raises(ValueError, match=r"name='csf' but one of \['gm', 't1', 'wm'\]"):
        mni152_template_path("csf")


def test_templates_share_one_1mm_grid_and_lie_in_unit_range() -> None:
    templates = load_mni152_templates()
    for array in (templates.t1, templates.gm, templates.wm):
        assert array.shape == (197, 233, 189) and array.dtype == np.float32
        assert array.min() == 0.0 and 0.9 < array.max() <= 1.0
    np.testing.assert_allclose(np.abs(np.diag(templates.affine)[:3]), [1.0, 1.0, 1.0])
