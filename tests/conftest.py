"""Suite-wide: the secrets audit (see secrets_audit.py) records the whole run."""

from __future__ import annotations

from typing import List

import pytest

from avatars.config import ENV_NAMES

from .secrets_audit import get_audit

AUDIT_TEST = "test_no_secret_leaked_during_the_suite"


def pytest_sessionstart(session: pytest.Session) -> None:
    get_audit().install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    get_audit().uninstall()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    """The audit test runs last, after everything it audits."""
    last = [item for item in items if item.name == AUDIT_TEST]
    if last:
        items[:] = [item for item in items if item.name != AUDIT_TEST] + last


@pytest.fixture(autouse=True)
def _no_avatar_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client reads AVATAR_* when a value is not given: no test sees the
    environment of the machine it runs on (tests that want a variable set it)."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
