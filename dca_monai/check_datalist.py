"""Deprecated alias of :mod:`dca_monai.data.datalist_checks` (library) and :mod:`dca_monai.data.check_datalist_cli`.

Importing it warns (``FutureWarning``); it will be removed in the next release. Use
``dca_monai.data.datalist_checks`` (or ``dca_monai.data``) for :func:`check_datalist` and its errors,
and ``dca-monai-check-datalist`` or ``python -m dca_monai.data.check_datalist_cli`` for the command;
``python -m dca_monai.check_datalist`` still runs it meanwhile.
"""

from __future__ import annotations

import warnings

from dca_monai.data.check_datalist_cli import main
from dca_monai.data.datalist_checks import (
    DatalistError,
    DatalistProblem,
    SectionSummary,
    check_datalist,
    show_datalist_errors_first,
)

__all__ = ["DatalistError", "DatalistProblem", "SectionSummary", "check_datalist", "main", "show_datalist_errors_first"]

warnings.warn(
    "dca_monai.check_datalist is deprecated and will be removed in the next release: import "
    "dca_monai.data.datalist_checks (check_datalist, DatalistError, show_datalist_errors_first) and run "
    "dca-monai-check-datalist or python -m dca_monai.data.check_datalist_cli",
    FutureWarning,
    stacklevel=2,
)

if __name__ == "__main__":
    raise SystemExit(main())
