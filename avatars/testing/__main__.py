"""``python -m avatars.testing``: see :mod:`avatars.testing.cli`."""

from __future__ import annotations

import sys

from .cli import serve_main

if __name__ == "__main__":
    sys.exit(serve_main())
