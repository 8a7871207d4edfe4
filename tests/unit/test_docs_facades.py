"""docs/reference/facades.rst lists every facade method with the endpoint its docstring names."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from avatars import ApiClient

from .conftest import FACADES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "facades.rst").read_text()


def test_every_facade_method_is_in_the_reference_with_its_endpoint() -> None:
    listed = dict(re.findall(r"\* - ``client\.([a-z_]+\.[a-z_]+)``\n\s+- ``([^`]+)``", DOC))
    seen = set()
    with ApiClient("https://avatar.test/api", api_key="k") as client:
        for attribute in FACADES:
            for name, method in inspect.getmembers(getattr(client, attribute), inspect.ismethod):
                if name.startswith("_"):
                    continue
                key = f"{attribute}.{name}"
                endpoint = re.findall(
                    r"``((?:GET|POST|PUT|PATCH|DELETE) [^`]*)``", (method.__doc__ or "").splitlines()[0]
                )
                assert endpoint, f"{key}: the docstring's first line names no endpoint"
                assert listed.get(key) == endpoint[0], f"{key} is not listed with {endpoint[0]!r} in facades.rst"
                seen.add(key)
    assert set(listed) == seen, f"facades.rst lists methods that do not exist: {set(listed) - seen}"
