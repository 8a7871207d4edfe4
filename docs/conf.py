"""Sphinx configuration of the ``avatars`` documentation.

Build (warnings are errors, as in ``tox -e docs``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W --keep-going -b doctest docs docs/_build/doctest

No network is needed: intersphinx is off, and every example runs against
:class:`avatars.testing.LocalAvatarServer` on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
# The package is normally installed (``pip install -e '.[docs]'``); the source
# tree comes first anyway so that the documentation describes this checkout.
sys.path.insert(0, os.path.dirname(DOCS_DIR))

from avatars._version import __version__  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "avatars"
author = "the avatars authors"
copyright = "the avatars authors"  # noqa: A001 (Sphinx's name)
version = ".".join(__version__.split(".")[:2])
release = __version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
]
# intersphinx is deliberately not used: the build needs no network.

root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
pygments_style = "sphinx"

# -- autodoc / napoleon ------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# -- HTML --------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"avatars {release}"
html_theme_options = {
    "description": "Python client for the Avatar anonymization platform, built on requests",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "260px",
}
html_static_path: list[str] = []

# -- doctest -----------------------------------------------------------------
#
# Every page's examples run against a fresh local Avatar server (the
# ``avatars.testing`` stand-in), started before the page's examples and
# stopped after them.  The examples see:
#
#   base_url   the server's API URL (http://127.0.0.1:PORT/api)
#   email      a user's e-mail, also their username
#   password   that user's password
#   api_key    an API key of that user
#   server     the LocalAvatarServer itself (for its admin side)
#   docs_dir   the absolute path of this directory
#
# The AVATAR_* variables, the proxy variables and the CA bundle variables of
# the environment are removed while a page runs (and restored after it), so
# that the results do not depend on the machine that builds the docs.

import doctest  # noqa: E402

doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1 | doctest.NORMALIZE_WHITESPACE

doctest_global_setup = f"""
import os as _os

_saved_environ = dict(_os.environ)
for _name in list(_os.environ):
    if _name.upper().startswith("AVATAR") or _name.upper() in (
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    ):
        del _os.environ[_name]

from avatars.testing import LocalAvatarServer

docs_dir = {DOCS_DIR!r}
server = LocalAvatarServer(job_step_seconds=0.01).start()
email = "alice@example.com"
password = "correct horse battery staple"
_user = server.admin.create_user(email, password)
api_key = server.admin.create_api_key(_user, name="docs")
base_url = server.base_url

# Used by the examples in the docstrings (``>>> ApiKeyAuth("s3cr3t")``).
from avatars import ApiKeyAuth
"""

doctest_global_cleanup = """
server.stop()
_os.environ.clear()
_os.environ.update(_saved_environ)
"""
