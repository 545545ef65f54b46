"""Boolean and count settings of networks and bundle configs, as ``python -m monai.bundle`` passes them.

MONAI's bundle command line parses its arguments with ``fire``: ``--resume True`` and
``--network_def#dca False`` arrive as Python booleans, while lowercase ``true``/``false`` arrive as
the *strings* ``"true"``/``"false"`` (and ``"false"`` is truthy). That is the one way to pass a
boolean here: a string is rejected with the spelling to use instead of being read either way.
Counts (``--snapshot_interval 100``) arrive as ints; a string, float or negative number is rejected.
"""

from __future__ import annotations

import numpy as np

__all__ = ["require_bool", "require_non_negative_int"]


def require_bool(name: str, value: object) -> bool:
    """``value`` as a ``bool`` when it is one (Python or NumPy), else a ``TypeError`` naming ``name``.

    Args:
        name: the argument or config id, used in the error (``"resume"``, ``"network_def#dca"``).
        value: the value to check.

    Returns:
        ``value`` as a Python ``bool``.

    Raises:
        TypeError: for anything but a bool, e.g. the string ``"false"`` that ``--name false`` gives.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = ""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        hint = (
            f"; on the command line write {value.strip().capitalize()}, capitalized"
            f" (python -m monai.bundle reads True/False as booleans but {value.strip()} as a string)"
        )
    raise TypeError(f"{name}={value!r} but True or False was expected{hint}")


def require_non_negative_int(name: str, value: object) -> int:
    """``value`` as an ``int`` when it is a whole number >= 0 (Python or NumPy, not a bool);
    otherwise an error naming ``name``.

    Raises:
        TypeError: for a bool, float, string or anything else that is not an integer.
        ValueError: for a negative integer.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} but a whole number >= 0 was expected (0 turns it off)")
    if value < 0:
        raise ValueError(f"{name}={value!r} but a whole number >= 0 was expected (0 turns it off)")
    return int(value)
