"""Unit files: finding and parsing them, and what their keys mean (time spans, Exec lines,
Environment, Condition and Assert checks)."""

from __future__ import annotations

import fnmatch
import os
import pwd
import re
import shlex

from .paths import DEFAULT_PATH, SEARCH, P

TYPES = (".service", ".timer", ".target")
VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)|\$\$")
SPAN = re.compile(r"([\d.]+)\s*(us|ms|s|sec|m|min|h|hr|d|)\s*")
SECS = {"us": 1e-6, "ms": 1e-3, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def unit_name(arg: str) -> str:
    return arg if arg.endswith(TYPES) or is_glob(arg) else f"{arg}.service"


def is_glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def span(text: str) -> float | None:
    """Seconds of a systemd time span; None for infinity (and 0, which disables it too)."""
    if text.strip() in ("infinity", "0", ""):
        return None
    return sum(float(n) * SECS.get(u, 1) for n, u in SPAN.findall(text))


class Unit:
    def __init__(self, name: str, path: str, masked: bool) -> None:
        self.name, self.path, self.masked = name, path, masked
        self.keys: dict[str, list[str]] = {}
        self.sections: set[str] = set()
        if not masked:
            self.parse(P(path))

    def parse(self, path: str) -> None:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = re.sub(r"\\\n", " ", f.read())  # a trailing backslash continues the line
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                self.sections.add(line.strip("[]"))
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if value:
                self.keys.setdefault(key, []).append(value)
            else:
                self.keys.pop(key, None)  # an empty assignment resets a list

    def get(self, key: str, default: str = "") -> str:
        values = self.keys.get(key)
        return values[-1] if values else default

    def words(self, key: str) -> list[str]:
        return [w for v in self.keys.get(key, []) for w in v.split()]

    def flag(self, key: str) -> bool:
        return self.get(key).lower() in ("yes", "true", "1", "on")

    def timeout(self, key: str) -> float | None:
        for k in (key, "TimeoutSec"):
            if k in self.keys:
                return span(self.get(k))
        # systemd gives oneshot starts no timeout by default
        return None if key == "TimeoutStartSec" and self.type == "oneshot" else 90.0

    @property
    def type(self) -> str:
        return self.get("Type", "simple")

    @property
    def description(self) -> str:
        return self.get("Description", self.name)


def find(name: str) -> Unit | None:
    for d in SEARCH:
        path = f"{d}/{name}"
        if os.path.lexists(P(path)):
            masked = os.path.realpath(P(path)) == "/dev/null"
            if masked or os.path.isfile(P(path)):
                return Unit(name, path, masked)
    return None


def unit_files() -> list[str]:
    names: set[str] = set()
    for d in SEARCH:
        try:
            entries = os.listdir(P(d))
        except OSError:
            continue
        names.update(e for e in entries if e.endswith(TYPES) and "@" not in e)
    return sorted(n for n in names if find(n))


def environment(u: Unit) -> dict[str, str] | None:
    env = {"PATH": DEFAULT_PATH, "LANG": os.environ.get("LANG", "C.UTF-8")}
    if u.get("User"):
        pw = pwd.getpwnam(u.get("User"))
        env |= {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name}
        env["SHELL"] = pw.pw_shell
    for line in u.keys.get("Environment", []):
        pairs = [w.partition("=") for w in shlex.split(line)]
        env |= {k: v for k, eq, v in pairs if eq}
    for path in u.keys.get("EnvironmentFile", []):
        try:
            with open(path.lstrip("-")) as f:
                lines = f.read().splitlines()
        except OSError:
            if path.startswith("-"):
                continue
            return None
        for line in lines:
            key, eq, value = line.strip().partition("=")
            if eq and key[:1] not in "#;":
                env[key.strip()] = value.strip().strip("\"'")
    return env


def command(line: str, env: dict[str, str]) -> tuple[list[str], bool]:
    """argv of an Exec line, and whether its failure is ignored (a leading -)."""
    prefix = line[: len(line) - len(line.lstrip("-@+!:"))]
    words = shlex.split(line[len(prefix) :])
    if ":" in prefix:
        return words, "-" in prefix
    argv: list[str] = []
    for w in words:
        if re.fullmatch(r"\$\w+", w):  # a lone $VAR splits into words
            argv += env.get(w[1:], "").split()
        else:
            argv.append(VAR.sub(lambda m: env.get(m[1] or m[2], "") if m[0] != "$$" else "$", w))
    return argv, "-" in prefix


def condition(u: Unit, kind: str) -> bool:
    for key, values in u.keys.items():
        if not key.startswith(kind):
            continue
        test = key[len(kind) :]
        for value in values:
            neg = value.startswith("!")
            path = value.lstrip("|!")
            if test == "PathExists":
                ok = os.path.exists(path)
            elif test == "FileNotEmpty":
                ok = os.path.isfile(path) and os.path.getsize(path) > 0
            elif test == "DirectoryNotEmpty":
                ok = os.path.isdir(path) and bool(os.listdir(path))
            elif test == "PathIsDirectory":
                ok = os.path.isdir(path)
            else:
                continue  # a test we do not know passes
            if ok == neg:
                return False
    return True


def expand(args: list[str], pool: list[str]) -> list[str]:
    names: list[str] = []
    for a in args:
        new = [n for n in pool if fnmatch.fnmatchcase(n, a)] if is_glob(a) else [unit_name(a)]
        names += [n for n in new if n not in names]
    return names
