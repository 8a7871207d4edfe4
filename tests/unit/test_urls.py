"""``avatars._urls.same_origin``: the prefix fast path agrees with parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avatars._urls import origin_of, same_origin

API = origin_of("http://127.0.0.1:8000/api")
HTTPS_DEFAULT = origin_of("https://api.example.com/api")
IPV6 = origin_of("http://[::1]:8000/api")


@pytest.mark.parametrize(
    "url, origin, expected",
    [
        ("http://127.0.0.1:8000/api/jobs", API, True),
        ("http://127.0.0.1:8000/", API, True),
        ("http://127.0.0.1:8000", API, True),
        ("HTTP://127.0.0.1:8000/api", API, True),
        ("http://127.0.0.1:8000@evil.example/api", API, False),
        ("http://127.0.0.1:80001/api", API, False),
        ("http://127.0.0.1:8001/api", API, False),
        ("https://127.0.0.1:8000/api", API, False),
        ("http://127.0.0.1:8000.evil.example/api", API, False),
        ("http://127.0.0.1/api", API, False),
        ("https://api.example.com/api/jobs", HTTPS_DEFAULT, True),
        ("https://API.example.com:443/api/jobs", HTTPS_DEFAULT, True),
        ("https://api.example.com:443/x", HTTPS_DEFAULT, True),
        ("https://api.example.com:8443/x", HTTPS_DEFAULT, False),
        ("http://[::1]:8000/api/jobs", IPV6, True),
        ("http://::1:8000/api/jobs", IPV6, False),
        ("not a url", API, False),
        ("http://127.0.0.1:8000/api", None, False),
    ],
)
def test_same_origin(url: str, origin: object, expected: bool) -> None:
    assert same_origin(url, origin) is expected  # type: ignore[arg-type]
    # The fast path never disagrees with the parsed answer.
    assert expected is (origin is not None and origin_of(url) == origin)


@settings(max_examples=300, deadline=None, database=None)
@given(
    text=st.text(min_size=1, max_size=40)
    | st.text(alphabet="abcXYZ019_.~-/ %?#é", min_size=1, max_size=12)
    | st.from_regex(r"[A-Za-z0-9_.~-]{1,30}", fullmatch=True)
)
def test_a_path_part_is_what_quote_makes_of_it(text: str) -> None:
    from urllib.parse import quote

    from avatars.errors import RequestValidationError
    from avatars.resources._base import path_part

    if text in (".", ".."):
        with pytest.raises(RequestValidationError):
            path_part(text)
    else:
        assert path_part(text) == quote(text, safe="")
