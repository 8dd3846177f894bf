"""Where in the user's code a graph node was made.

Every apply node records the first stack frame outside the symgrad package, so that errors
can point at the user's own line. Only (filename, lineno) is kept: no frame objects, no
traceback formatting until an error is actually raised.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class SourceLocation(NamedTuple):
    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{os.path.basename(self.filename)}:{self.lineno}"

    @property
    def full(self) -> str:
        return f"{self.filename}:{self.lineno}"


UNKNOWN = SourceLocation("<unknown>", 0)


def user_location() -> SourceLocation:
    """The innermost caller frame that is not symgrad's own code."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) or "/symgrad/examples/" in filename:
            return SourceLocation(filename, frame.f_lineno)
        frame = frame.f_back
    return UNKNOWN
