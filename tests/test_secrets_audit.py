"""No password, token, API key or storage credential in any log line (avatars and
urllib3 at DEBUG), exception message or repr produced during the whole suite."""

from __future__ import annotations

import logging

import pytest

from .secrets_audit import SecretsAudit, get_audit


def test_the_audit_detects_a_planted_leak() -> None:
    audit = SecretsAudit()
    audit.add_secret("planted-access-token-123")
    audit.add_secret("short")  # placeholders below the minimum length are ignored
    audit.log_lines.append("avatars DEBUG oops planted-access-token-123 short")
    audit.errors.append(ValueError("bad planted-access-token-123"))
    leaks = audit.leaks()
    assert "log: avatars DEBUG oops <SECRET pla...> short" in leaks
    assert any(leak.startswith("ValueError: bad <SECRET pla...>") for leak in leaks)
    assert "planted-access-token-123" not in " ".join(leaks)


def test_the_audit_records_what_goes_through_the_library() -> None:
    from avatars import ApiKeyAuth, AuthTokens

    before = AuthTokens.__init__
    audit = SecretsAudit()
    audit.install()
    try:
        AuthTokens("recorded-access-token-1", "recorded-refresh-token-1")
        ApiKeyAuth("recorded-api-key-000001")
        logging.getLogger("avatars.test").debug("a line")
    finally:
        audit.uninstall()
    assert {"recorded-access-token-1", "recorded-refresh-token-1", "recorded-api-key-000001"} <= audit.secrets
    assert "avatars.test DEBUG a line" in audit.log_lines
    assert AuthTokens.__init__ is before  # uninstall puts everything back


def test_no_secret_leaked_during_the_suite() -> None:
    audit = get_audit()
    if len(audit.secrets) < 20 or len(audit.log_lines) < 100:
        pytest.skip(
            f"the audit saw too little to judge ({len(audit.secrets)} secrets, {len(audit.log_lines)} log lines): "
            "run it with the whole suite"
        )
    leaks = audit.leaks()
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks)
    # evidence that the audit watched real traffic
    assert any(line.startswith("urllib3") for line in audit.log_lines)
    assert any(" -> 200 " in line or line.endswith("-> 200") or "-> 200 in" in line for line in audit.log_lines)
    assert audit.errors, "no AvatarError was created: the audit did not see the bad paths"
