"""Weight conversion from other DCA implementations into ``dca_monai``'s layout."""

from __future__ import annotations

from dca_monai.compat.official_dca import convert_official_dca, token_pool_for_patch

__all__ = ["convert_official_dca", "token_pool_for_patch"]
