"""The error a datalist check raises, one :class:`DatalistProblem` per problem, and how a bundle shows it.

In a bundle config, :func:`show_datalist_errors_first` makes a failed check print its problems as
the whole output of ``python -m monai.bundle run`` instead of the end of the config parser's
traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

__all__ = ["DatalistError", "DatalistProblem", "show_datalist_errors_first"]

_TRACEBACK_VARIABLE = "DCA_MONAI_TRACEBACK"


@dataclass(frozen=True)
class DatalistProblem:
    """One problem of a datalist.

    Attributes:
        section: section name, ``None`` for a problem of the whole datalist.
        index: entry index in the section, ``None`` for a problem of the whole section.
        key: entry key (``"image"``, ``"label"``, ``"image[1]"`` for the second file of a list).
        path: the file or folder concerned, as resolved on disk.
        message: what is wrong and what was expected.
    """

    section: str | None
    index: int | None
    key: str | None
    path: str | None
    message: str

    @property
    def where(self) -> str:
        if self.section is None:
            return "datalist"
        where = self.section if self.index is None else f"{self.section}[{self.index}]"
        return where if self.key is None else f"{where}.{self.key}"

    def __str__(self) -> str:
        return f"{self.where} ({self.path}): {self.message}" if self.path else f"{self.where}: {self.message}"


class DatalistError(ValueError):
    """Every problem found in one datalist; ``problems`` holds them as :class:`DatalistProblem`."""

    def __init__(self, datalist: str, problems: Sequence[DatalistProblem]) -> None:
        self.datalist = datalist
        self.problems = tuple(problems)
        lines = [f"datalist {datalist} has {len(self.problems)} problem(s):"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


def show_datalist_errors_first() -> None:
    """Print a :class:`DatalistError` that ends the process as its problems alone, not as a traceback.

    ``python -m monai.bundle run`` reports a failed config expression as a long traceback of the
    config parser with the error in its middle. A bundle's ``initialize`` calls this before its
    input check: when the process then dies of an uncaught exception caused by a
    :class:`DatalistError`, stderr shows ``DatalistError: ...`` with every problem, and how to see
    the full traceback (set the environment variable ``DCA_MONAI_TRACEBACK=1``). Any other
    exception is printed as before. Calling it again changes nothing.
    """
    previous = sys.excepthook
    if getattr(previous, "_dca_monai_datalist_hook", False):
        return

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        cause = _datalist_error_in_chain(error)
        if cause is None or os.environ.get(_TRACEBACK_VARIABLE, "") not in ("", "0"):
            previous(kind, error, trace)
            return
        print(f"{type(cause).__name__}: {cause}", file=sys.stderr)
        print(f"(the input check stopped the command; set {_TRACEBACK_VARIABLE}=1 for the traceback)", file=sys.stderr)

    hook._dca_monai_datalist_hook = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _datalist_error_in_chain(error: BaseException | None) -> DatalistError | None:
    """The first :class:`DatalistError` among ``error``, its causes and contexts."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DatalistError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
