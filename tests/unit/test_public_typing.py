"""Public typing: typed strategy accessors, and mypy --strict over the shipped examples."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import responses

from avatars import ApiClient, ConfigurationError

from .conftest import BASE, login_body

ROOT = Path(__file__).resolve().parents[2]


def test_typed_strategy_accessors(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, f"{BASE}/login", json=login_body("access-1", "refresh-1"))
    keyed = ApiClient(BASE, api_key="key-1")
    assert keyed.api_key_auth is keyed.auth_strategy
    with pytest.raises(ConfigurationError, match="authenticate"):
        keyed.token_auth  # noqa: B018
    bearer = ApiClient(BASE)
    with pytest.raises(ConfigurationError, match="authenticate"):
        bearer.token_auth  # noqa: B018
    bearer.authenticate("ada@example.com", "pw")
    assert bearer.token_auth is bearer.auth_strategy and bearer.token_auth.refresh_count == 0
    with pytest.raises(ConfigurationError, match="API key"):
        bearer.api_key_auth  # noqa: B018


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (tox -e type runs it)")
def test_examples_and_readme_snippets_pass_mypy_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "typecheck-examples"), "--keep", str(tmp_path / "snippets")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    snippets = sorted(p.name for p in (tmp_path / "snippets").glob("*.py"))
    assert len(snippets) >= 5, snippets  # the README's python blocks were extracted and checked


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (tox -e type runs it)")
def test_load_by_model_class_is_typed_for_mypy(tmp_path: Path) -> None:
    """``schemas.load(Model, data)`` is typed ``Model`` and ``load_many`` ``List[Model]``:
    a wrong use of the result is a mypy --strict error at the call site."""
    good = tmp_path / "good.py"
    good.write_text(
        "from typing import List\n"
        "from avatars import schemas\n"
        "from avatars.models import JobResponse, User\n"
        "def f(data: object) -> None:\n"
        "    job: JobResponse = schemas.load(JobResponse, data)\n"
        "    users: List[User] = schemas.load_many(User, data)\n"
        "    print(job.name, users[0].email)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from avatars import schemas\n"
        "from avatars.models import JobResponse, User\n"
        "def f(data: object) -> None:\n"
        "    user: User = schemas.load(JobResponse, data)\n"
    )
    for path, ok in ((good, True), (bad, False)):
        proc = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        assert (proc.returncode == 0) is ok, proc.stdout[-3000:]
    assert 'expression has type "JobResponse", variable has type "User"' in proc.stdout, proc.stdout[-3000:]
