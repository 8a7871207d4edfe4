"""``python -m avatars``: the ``avatars`` command."""

from .cli import console_main

console_main()
