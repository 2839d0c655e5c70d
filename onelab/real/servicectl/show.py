"""The verbs that change nothing: is-active, is-failed, is-enabled, status, show,
list-units and list-unit-files, in systemctl's formats and with its exit codes."""

from __future__ import annotations

import fnmatch
import os
import time

from .console import err, out
from .paths import LOGS, P
from .procfs import proc_stat
from .state import effective, enabled, load_state, loaded, sub_state
from .units import find, unit_files, unit_name


def is_active(cmd: str, names: list[str]) -> int:
    """is-active (every unit active) or is-failed (any unit failed)."""
    states = [effective(n) for n in names]
    for s in states:
        out(s)
    if cmd == "is-failed":
        return 0 if "failed" in states else 1
    return 0 if states and all(s == "active" for s in states) else 3


def is_enabled(names: list[str]) -> int:
    rc = 0
    for n in names:
        u = find(n)
        if u is None:
            err(f"Failed to get unit file state for {n}: No such file or directory")
            rc = 1
            continue
        e = enabled(u)
        out(e)
        rc = rc if e in ("enabled", "static") else 1
    return rc


def status(names: list[str], lines: int) -> int:
    rc = 0
    for i, name in enumerate(names):
        u = find(name)
        st = load_state(name)
        if u is None:
            err(f"Unit {name} could not be found.")
            rc = 4
            continue
        s = effective(name, st)
        print("" if i == 0 else "\n", end="")
        dot = {"active": "●", "failed": "×"}.get(s, "○")
        print(f"{dot} {name} - {u.description}")
        if u.masked:
            print(f"     Loaded: masked (Reason: Unit {name} is masked.)")
        else:
            print(f"     Loaded: loaded ({u.path}; {enabled(u)}; preset: enabled)")
        when = time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(st.get("since", 0)))
        since = f" since {when}" if "since" in st else ""
        what = {"active": f"active ({sub_state(name, st)})", "failed": "failed (Result: "}
        what["failed"] += f"{st.get('result', 'exit-code')})"
        print(f"     Active: {what.get(s, s + ' (' + sub_state(name, st) + ')')}{since}")
        if s == "active" and st.get("pid"):
            f = proc_stat(st["pid"])
            comm = open(f"/proc/{st['pid']}/comm").read().strip() if f else "?"
            print(f"   Main PID: {st['pid']} ({comm})")
        try:
            with open(P(f"{LOGS}/{name}.log"), "rb") as f_:
                f_.seek(max(0, os.fstat(f_.fileno()).st_size - 65536))
                tail = f_.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            tail = []
        if tail and lines:
            print("\n" + "\n".join(tail))
        rc = rc or (0 if s == "active" else 3)
    return rc


def properties(name: str) -> dict[str, str]:
    u = find(name)
    st = load_state(name)
    load = "not-found" if u is None else "masked" if u.masked else "loaded"
    return {
        "Id": name,
        "Description": u.description if u else name,
        "LoadState": load,
        "ActiveState": effective(name, st),
        "SubState": sub_state(name, st),
        "MainPID": str(st.get("pid", 0) if effective(name, st) == "active" else 0),
        "Result": str(st.get("result", "success")),
        "UnitFileState": enabled(u) if u else "",
        "FragmentPath": u.path if u and not u.masked else "",
    }


def show(names: list[str], want: list[str], value_only: bool) -> int:
    """The properties `want` (all when none) of each unit, KEY=VALUE or (--value) VALUE."""
    for i, n in enumerate(names):
        props = properties(n)
        print("" if i == 0 else "\n", end="")
        for key in want or list(props):
            value = props.get(key, "")
            print(value if value_only else f"{key}={value}")
    return 0


def table(rows: list[list[str]], header: list[str] | None, marks: list[str] | None) -> None:
    """Columns as wide as their widest cell; the last one not padded; marks lead the rows."""
    rows = [header, *rows] if header else rows
    marks = (["  "] if header else []) + marks if marks is not None else [""] * len(rows)
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for mark, row in zip(marks, rows, strict=True):
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        print(mark + " ".join(cells).rstrip())


def list_units(flags: set[str], opts: dict[str, list[str]], patterns: list[str]) -> int:
    show_all = "--all" in flags
    types = [t for v in opts.get("--type", []) for t in v.split(",")]
    states = [s for v in opts.get("--state", []) for s in v.split(",")]
    names = sorted(set(unit_files()) | set(loaded()))
    rows, marks = [], []
    for name in names:
        p = properties(name)
        row = [name, p["LoadState"], p["ActiveState"], p["SubState"], p["Description"]]
        if types and not any(name.endswith("." + t) for t in types):
            continue
        if patterns and not any(fnmatch.fnmatchcase(name, unit_name(x)) for x in patterns):
            continue
        if states and not set(states) & set(row[1:4]):
            continue
        if not states and not show_all and row[2] == "inactive":
            continue
        rows.append(row)
        marks.append("● " if row[2] == "failed" or row[1] != "loaded" else "  ")
    legend = "--no-legend" not in flags
    header = ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"] if legend else None
    table(rows, header, None if "--plain" in flags else marks)
    if legend:
        print("\nLOAD   = Reflects whether the unit definition was properly loaded.")
        print("ACTIVE = The high-level unit activation state, i.e. generalization of SUB.")
        print("SUB    = The low-level unit activation state, values depend on unit type.")
        tail = "" if show_all else " Pass --all to see loaded but inactive units, too."
        print(f"{len(rows)} loaded units listed.{tail}")
        print("To show all installed unit files use 'systemctl list-unit-files'.")
    return 0


def list_unit_files(flags: set[str], patterns: list[str]) -> int:
    rows = []
    for name in unit_files():
        if patterns and not any(fnmatch.fnmatchcase(name, unit_name(x)) for x in patterns):
            continue
        u = find(name)
        state = enabled(u) if u else "bad"
        rows.append([name, state, "-" if state in ("static", "masked") else "enabled"])
    legend = "--no-legend" not in flags
    table(rows, ["UNIT FILE", "STATE", "VENDOR PRESET"] if legend else None, None)
    if "--no-legend" not in flags:
        print(f"\n{len(rows)} unit files listed.")
    return 0
