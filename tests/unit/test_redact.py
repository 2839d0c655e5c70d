"""Redaction: known secrets, the inventory's patterns and built-in secret forms become ********."""

from __future__ import annotations

import threading

import pytest

from oneupgrade.audit.redact import MASK, Redactor


def test_known_secret_everywhere() -> None:
    r = Redactor(secrets=["hunter22"])
    assert r.redact("a hunter22 b hunter22") == f"a {MASK} b {MASK}"
    assert r("xhunter22x") == f"x{MASK}x"


def test_longer_secret_first() -> None:
    r = Redactor(secrets=["abcd", "abcdefgh"])
    assert r.redact("abcdefgh abcd") == f"{MASK} {MASK}"


def test_short_values_are_not_secrets_but_may_be_patterns() -> None:
    r = Redactor(secrets=["on", "abc", ""])
    assert r.redact("onedb abc on") == "onedb abc on"
    assert Redactor(patterns=[r"\babc\b"]).redact("onedb abc on") == f"onedb {MASK} on"


def test_add_secret() -> None:
    r = Redactor()
    assert r.redact("pw1234") == "pw1234"
    r.add_secret("pw1234")
    r.add_secret("pw1234")
    assert r.redact("pw1234") == MASK


def test_regex_characters_in_secrets_are_literal() -> None:
    r = Redactor(secrets=["a.b*c(d"])
    assert r.redact("a.b*c(d axbbbc(d") == f"{MASK} axbbbc(d"


def test_inventory_patterns() -> None:
    r = Redactor(patterns=[r"s3cr[e]t-\w+"])
    assert r.redact("token s3cret-XYZ1 ok") == f"token {MASK} ok"


def test_pattern_that_matches_empty_does_not_spray() -> None:
    assert Redactor(patterns=["x*"]).redact("abxxc") == f"ab{MASK}c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "deb https://acme:tok3n@enterprise.opennebula.io/repo/7.0 stable",
            f"deb https://{MASK}@enterprise.opennebula.io/repo/7.0 stable",
        ),
        ("git clone ssh://git@host/x", f"git clone ssh://{MASK}@host/x"),
        ("mysql --password=s3cret -u one", f"mysql --password={MASK} -u one"),
        ("password hunter2", f"password {MASK}"),
        ("Password: hunter2", f"Password: {MASK}"),
        ('DB_PASSWD="two words"', f"DB_PASSWD={MASK}"),
        ("passwd=abc;echo ok", f"passwd={MASK};echo ok"),
        ('{"password": "x y"}', f'{{"password": {MASK}}}'),
        ("mysql -p'hunter2' one", f"mysql -p'{MASK}' one"),
        ('mysql -p"hunter2" one', f'mysql -p"{MASK}" one'),
        ("Authorization: Bearer abc.def", f"Authorization: {MASK}"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNz' x", f"curl -H 'Authorization: {MASK}' x"),
        # the regexes match case-insensitively, Unicode's case folding included
        ("PASSWORD hunter2", f"PASSWORD {MASK}"),
        ("DB_PAſſWD=hunter2", f"DB_PAſſWD={MASK}"),
        ("PROXY-AUTHORIZATION: Basic x", f"PROXY-AUTHORIZATION: {MASK}"),
    ],
)
def test_builtin_forms(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mkdir -p /var/lib/one/backups",
        "cp -ra /etc/one /etc/one.bak",
        "rsync -r fe1:/etc/one/ /etc/one/",
        "see https://docs.opennebula.io/7.0/",
        "onedb backup -v",
        "user@fe1",
    ],
)
def test_ordinary_commands_are_left_alone(text: str) -> None:
    assert Redactor().redact(text) == text


def test_password_on_the_next_line_is_not_taken() -> None:
    assert Redactor().redact("password\nrestart ok") == "password\nrestart ok"


def test_empty_text() -> None:
    assert Redactor(secrets=["abcd"]).redact("") == ""


def test_secrets_added_while_redacting() -> None:
    r = Redactor()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(100):
                r.add_secret(f"secret-{i:04d}")
                assert r.redact(f"x secret-{i:04d} y") == f"x {MASK} y"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
