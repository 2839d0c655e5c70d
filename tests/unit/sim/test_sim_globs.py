"""The simulation's glob matcher agrees with fnmatch, without importing re."""

from __future__ import annotations

import fnmatch
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from onelab.sim import globs

NAMES = ["", "a", "opennebula", "opennebula-node-kvm", "libvirtd.service", "aXbXc", "abc"]
PATTERNS = [
    "",
    "*",
    "?",
    "opennebula*",
    "*.service",
    "a*b*c",
    "a?c",
    "*a*",
    "**",
    "a*",
    "*c",
    "open*node*",
    "x*",
    "a*b",
    "libvirtd.service",
    "[ab]*",
]


@pytest.mark.parametrize(("name", "pattern"), list(itertools.product(NAMES, PATTERNS)))
def test_it_matches_as_fnmatch_does(name: str, pattern: str) -> None:
    assert globs.matches(name, pattern) == fnmatch.fnmatchcase(name, pattern)


def test_a_star_pattern_does_not_import_re() -> None:
    # as a node runs it: the system interpreter, isolated, the package as `sim`
    lab = Path(globs.__file__).resolve().parents[1]
    code = (
        f"import sys; sys.path.insert(0, {str(lab)!r}); from sim import globs; "
        "assert globs.matches('opennebula-node-kvm', 'opennebula*'); "
        "assert not globs.matches('python3-pyone', 'opennebula*'); "
        "print('re' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
