"""Keep secrets out of every report, log and terminal line.

    r = Redactor(secrets=[db_password], patterns=inventory.redact)
    r.redact("onedb backup -p 'hunter22' ...")  # -> "onedb backup -p '********' ..."

Three layers, applied in this order:

1. secret values we know (the DB password read from oned.conf, a sudo password):
   every occurrence, wherever it appears. Values shorter than 4 characters are
   ignored: "on" or "1" would blank out half of every output. Give such a value
   as a pattern if it really must go;
2. the inventory's `redact:` patterns;
3. built-in forms: credentials in URLs (`https://user:token@host`), `password x`,
   `--password=x`, `passwd: x`, `DB_PASSWD="x"`, `-p'x'`, `Authorization:` headers.

Each match becomes `********`. Redaction errs on the side of hiding: a word
after "password" is hidden even when it was not one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor"]

MASK = "********"
MIN_SECRET_LENGTH = 4

_VALUE = r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s"',;&|]+)"""

# (clue, pattern, replacement): the pattern can only match a text whose case-folded
# form holds the clue (casefold, not lower: (?i) also matches the long s "ſ" as "s").
# Most outputs hold none, and a substring test is far cheaper than the search.
# Replacements keep the label and hide the value.
_BUILTIN: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # scheme://user:password@host and scheme://token@host
    ("://", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@'\"]+@"), r"\1" + MASK + "@"),
    # Authorization: Basic xxx / Bearer xxx (to the end of the header value)
    (
        "authorization",
        re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)[^\r\n'\"]+"),
        r"\1" + MASK,
    ),
    # password x | --password=x | passwd: x | DB_PASSWD="x" | "password": "x"
    (
        "passw",
        re.compile(
            r"(?i)(\b[\w-]*?(?:password|passwd)\w*['\"]?(?:[ \t]*[:=][ \t]*|[ \t]+))" + _VALUE,
        ),
        r"\1" + MASK,
    ),
    # mysql-style -p'x' / -p"x" (a quote right after -p: never an option like mkdir -p)
    ("-p", re.compile(r"""(?<![\w-])(-p)(["'])[^"'\n]*\2"""), r"\1\2" + MASK + r"\2"),
)


class Redactor:
    """Replaces known secrets and secret-looking values by `********`. Thread-safe."""

    def __init__(self, secrets: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._secret_re: re.Pattern[str] | None = None
        self._patterns = tuple(re.compile(p) for p in patterns)
        for value in secrets:
            self.add_secret(value)

    def add_secret(self, value: str) -> None:
        """Hide `value` from now on (too short a value is ignored, see the module doc)."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            secrets = self._secrets | {value}
            # Longest first, so a secret that contains another is hidden whole.
            alternatives = sorted(secrets, key=len, reverse=True)
            # One assignment each: readers see the old or the new state, never half of it.
            self._secret_re = re.compile("|".join(re.escape(s) for s in alternatives))
            self._secrets = secrets

    def redact(self, text: str) -> str:
        if not text:
            return text
        secret_re = self._secret_re
        if secret_re is not None:
            text = secret_re.sub(MASK, text)
        for pattern in self._patterns:
            text = pattern.sub(_mask_nonempty, text)
        folded = text.casefold()
        for clue, pattern, replacement in _BUILTIN:
            if clue in folded:
                text = pattern.sub(replacement, text)
        return text

    __call__ = redact


def _mask_nonempty(match: re.Match[str]) -> str:
    # A pattern that can match "" would otherwise insert the mask between every character.
    return MASK if match.group(0) else ""
