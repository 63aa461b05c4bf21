"""Where the files that ship beside the code are (``schemas/``, ``locustfiles/``).

The wheel carries them inside the package (``harness/schemas``, pyproject's ``force-include``); a source
checkout has them at the top of the repository, beside ``harness/``.  One lookup serves both layouts.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_file(folder: str, name: str) -> Path:
    """``folder/name`` inside the installed package or beside it in a checkout; FileNotFoundError if neither."""
    for base in (_PACKAGE, _PACKAGE.parent):
        candidate = base / folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"capture-harness {folder}/{name} not found in {_PACKAGE} or beside it; "
                            "reinstall the package")
