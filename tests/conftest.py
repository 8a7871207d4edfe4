"""Suite-wide: the secrets audit (see secrets_audit.py) records the whole run."""

from __future__ import annotations

from typing import List

import pytest

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
