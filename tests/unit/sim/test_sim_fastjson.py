"""sim.fastjson is byte-for-byte json (the sim imports it instead of json: start-up)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from onelab.sim import fastjson

SIM_PARENT = Path(fastjson.__file__).resolve().parent.parent


SCALARS: list[Any] = ["a", 'é\n"x\\', "", "☃", 0, -5, 10**30, 1.5, -0.0, 1e-300, True]
SCALARS += [False, None, float("nan"), float("inf"), float("-inf")]


def _value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 4 or r < 0.4:
        return rng.choice(SCALARS)
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["b", "a", "ü", "z\t", *(f"k{i}" for i in range(5))]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_dumps_and_loads_are_json_s() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        obj = _value(rng)
        for sort_keys in (False, True):
            compact = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"))
            assert fastjson.dumps(obj, sort_keys=sort_keys) == compact
            for indent in (1, 2):
                expected = json.dumps(obj, indent=indent, sort_keys=sort_keys)
                assert fastjson.dumps(obj, indent=indent, sort_keys=sort_keys) == expected
        text = json.dumps(obj)
        assert repr(fastjson.loads(f" \n{text}\r\n")) == repr(json.loads(text))


def test_non_string_keys_tuples_and_errors_are_json_s() -> None:
    obj = {1: (1, 2), 2.5: [], None: {}, False: "x"}
    assert fastjson.dumps(obj, indent=1) == json.dumps(obj, indent=1)
    assert fastjson.dumps(obj) == json.dumps(obj, separators=(",", ":"))
    for bad in ["", "{", "[1] x", "nul", "[1,]"]:
        with pytest.raises(json.JSONDecodeError) as got:
            fastjson.loads(bad)
        with pytest.raises(json.JSONDecodeError) as want:
            json.loads(bad)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError):
        fastjson.dumps({1j: 1}, indent=1)
    with pytest.raises(TypeError):
        fastjson.dumps(object())


def test_a_simulated_command_imports_no_json_re_pathlib_or_subprocess() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(SIM_PARENT)!r}); import sim.main, sim.session; "
        "from sim.tools import apt, dpkgquery, onehost, onevm, onezone, systemctl; "
        "mods = ('re', 'json', 'pathlib', 'enum', 'typing', 'subprocess'); "
        "print(sorted(m for m in mods if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-IS", "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
