"""The simulation held against real OpenNebula: the same commands on a simulated and a real
lab of the same shape and release (3 front-ends, 2 hosts, 6.10) must answer alike; onedb's
MySQL answers are held against a real zone on MariaDB.

"Alike" is what the runbook reads: JSON key sets and value types at every level, state
codes, table headers, exit codes and messages. What must differ is in ALLOWED, each
with why; everything else that differs fails, naming the path.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from onelab import Lab
from oneupgrade.opennebula import database

pytestmark = [pytest.mark.real, pytest.mark.lab]

# JSON paths whose presence may differ, matched where they occur (under HOST_POOL.HOST[]
# or HOST), each with its reason.
ALLOWED: dict[str, str] = {
    # The real tier's hosts run the dummy IM driver, whose probes invent this hardware;
    # the simulated hosts report none, and the runbook reads none of it.
    "HOST_SHARE.PCI_DEVICES": "invented by the dummy IM driver",
    "HOST_SHARE.NUMA_NODES": "invented by the dummy IM driver",
    "MONITORING.NUMA_NODE": "invented by the dummy IM driver",
    "TEMPLATE.KVM_CPU_FEATURES": "invented by the dummy IM driver",
    "TEMPLATE.KVM_CPU_MODELS": "invented by the dummy IM driver",
    # KVM's probes report the drivers' VERSION (im/kvm-probes.d/host/system/version.sh),
    # the dummy driver's do not; the simulation models KVM hosts.
    "TEMPLATE.VERSION": "KVM probes only",
}
# OpenNebula packages only one tier has, each with its reason.
ALLOWED_PACKAGES = {
    "opennebula-rubygems": "the real tier runs on Debian's Ruby gems, not OpenNebula's bundle",
}


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory, real_lab: Lab) -> Iterator[dict[str, Lab]]:
    sim = Lab.up(tmp_path_factory.mktemp("differential") / "sim", 3, 2, "6.10")
    try:
        yield {"sim": sim, "real": real_lab}
    finally:
        sim.down()


def _both(labs: dict[str, Lab], node: str, command: str) -> dict[str, tuple[int, str, str]]:
    return {tier: lab.run(node, command) for tier, lab in labs.items()}


def shape(value: Any, path: str = "") -> dict[str, str]:
    """Every path of a JSON document with the type found there (list items merged)."""
    found: dict[str, str] = {path or ".": type(value).__name__}
    if isinstance(value, dict):
        for key, item in value.items():
            found.update(shape(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for item in value:
            found.update(shape(item, f"{path}[]"))
    return found


def differences(sim: Any, real: Any) -> list[str]:
    a, b = shape(sim), shape(real)
    out = []
    for path in sorted(set(a) | set(b)):
        if any(re.search(rf"\.{re.escape(p)}($|[.\[])", path) for p in ALLOWED):
            continue
        if a.get(path) != b.get(path):
            out.append(f"{path}: sim {a.get(path, 'absent')}, real {b.get(path, 'absent')}")
    return out


def _json(labs: dict[str, Lab], node: str, command: str) -> dict[str, Any]:
    answers = _both(labs, node, command)
    for tier, (rc, out, err) in answers.items():
        assert rc == 0, f"{tier} {node}$ {command}: exit {rc}\n{out}{err}"
    return {tier: json.loads(out) for tier, (_, out, _) in answers.items()}


@pytest.mark.parametrize(
    "command",
    ["onezone show 0 -j", "onehost list -j", "onehost show -j 0", "onevm list -j"],
)
def test_json_answers_have_the_same_keys_and_types(labs: dict[str, Lab], command: str) -> None:
    docs = _json(labs, "fe1", command)
    assert differences(docs["sim"], docs["real"]) == []


def _codes(doc: Any, key: str) -> set[str]:
    found: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key and isinstance(v, str):
                found.add(v)
            found |= _codes(v, key)
    elif isinstance(doc, list):
        for item in doc:
            found |= _codes(item, key)
    return found


def test_state_codes_are_the_same(labs: dict[str, Lab]) -> None:
    zone = _json(labs, "fe1", "onezone show 0 -j")
    assert sorted(_codes(zone["sim"], "STATE")) == sorted(_codes(zone["real"], "STATE"))
    hosts = _json(labs, "fe1", "onehost list -j")
    assert _codes(hosts["sim"], "STATE") == _codes(hosts["real"], "STATE") == {"2"}
    vms = _json(labs, "fe1", "onevm list -j")
    for key in ("STATE", "LCM_STATE"):
        assert _codes(vms["sim"], key) == _codes(vms["real"], key)


def _header(text: str) -> list[str]:
    return text.strip().splitlines()[0].split() if text.strip() else []


@pytest.mark.parametrize("command", ["onezone show 0", "onehost list", "onevm list"])
def test_tables_have_the_same_headers(labs: dict[str, Lab], command: str) -> None:
    answers = _both(labs, "fe1", command)
    tables = {tier: out for tier, (_, out, _) in answers.items()}
    if command == "onezone show 0":  # the server table follows the zone's attributes
        tables = {t: out[out.index("ZONE SERVERS") :] for t, out in tables.items()}
        heads = {t: out.splitlines()[1].split() for t, out in tables.items()}
    else:
        heads = {t: _header(out) for t, out in tables.items()}
    assert heads["sim"] == heads["real"]
    assert {t: rc for t, (rc, _, _) in answers.items()} == {"sim": 0, "real": 0}


def test_onedb_version_reads_alike(labs: dict[str, Lab]) -> None:
    answers = _both(labs, "fe2", "onedb version")
    lines = {t: [re.sub(r"\d+(\.\d+)+", "N", ln) for ln in out.splitlines()]
             for t, (_, out, _) in answers.items()}  # fmt: skip
    assert lines["sim"] == lines["real"]
    assert answers["sim"][0] == answers["real"][0] == 0


def test_the_same_units_are_active(labs: dict[str, Lab]) -> None:
    command = "systemctl list-units --all --plain --no-legend --no-pager 'opennebula*'"
    answers = _both(labs, "fe1", command)
    units = {t: sorted((ln.split()[0], ln.split()[2]) for ln in out.splitlines() if ln.strip())
             for t, (_, out, _) in answers.items()}  # fmt: skip
    assert units["sim"] == units["real"]


def test_the_same_packages_are_installed(labs: dict[str, Lab]) -> None:
    command = "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' 'opennebula*'"
    for node in ("fe1", "hv1"):
        answers = _both(labs, node, command)
        installed = {
            t: sorted(
                ln.split()[0]
                for ln in out.splitlines()
                if ln.split()[1:] == ["ii"] and ln.split()[0] not in ALLOWED_PACKAGES
            )
            for t, (_, out, _) in answers.items()
        }
        assert installed["sim"] == installed["real"], node


def _refusal(labs: dict[str, Lab], node: str, command: str) -> dict[str, tuple[int, str]]:
    answers = _both(labs, node, command)
    return {t: (rc, (out + err).strip()) for t, (rc, out, err) in answers.items()}


def test_onehost_sync_refuses_root_alike(labs: dict[str, Lab]) -> None:
    answers = _refusal(labs, "fe1", "onehost sync")
    assert answers["sim"] == answers["real"] == (255, "Cannot run 'onehost sync' as root")


EXISTING = "/var/lib/one/differential.sql"


def _existing_file(labs: dict[str, Lab], node: str) -> None:
    for tier, lab in labs.items():
        rc, out, err = lab.run(node, f"echo '-- not a dump' > {EXISTING}")
        assert rc == 0, (tier, out + err)


def test_onedb_restore_refuses_while_oned_runs_alike(labs: dict[str, Lab]) -> None:
    _existing_file(labs, "fe2")
    answers = _refusal(labs, "fe2", f"onedb restore -f {EXISTING}")
    assert answers["sim"] == answers["real"]
    assert answers["real"][0] == 255


def test_onedb_restore_of_a_missing_file_is_refused_alike_while_oned_runs(
    labs: dict[str, Lab],
) -> None:
    answers = _refusal(labs, "fe2", "onedb restore -f /nonexistent.sql")
    assert answers["sim"] == answers["real"]
    assert answers["real"] == (
        255,
        "File /nonexistent.sql doesn't exist, backup restoration aborted.",
    )


def test_onedb_backup_refuses_an_existing_file_alike(labs: dict[str, Lab]) -> None:
    _existing_file(labs, "fe3")
    answers = _refusal(labs, "fe3", f"onedb backup {EXISTING}")
    assert answers["sim"] == answers["real"]
    assert answers["real"] == (
        255,
        f"File {EXISTING} exists, backup aborted. Use -f to overwrite.",
    )


def test_a_write_while_the_zone_is_disabled_is_refused_alike(labs: dict[str, Lab]) -> None:
    for tier, lab in labs.items():
        rc, out, err = lab.run("fe1", "onezone disable 0")
        assert rc == 0, (tier, out + err)
    try:
        answers = _refusal(labs, "fe1", "onehost disable 0")
        reads = _refusal(labs, "fe1", "onehost list")
    finally:
        for lab in labs.values():
            lab.run("fe1", "onezone enable 0")
    assert answers["sim"] == answers["real"]
    assert answers["real"][0] == 255
    assert reads["sim"][0] == reads["real"][0] == 0


# --- the MySQL backend: the simulation's front-ends keep their database in MySQL (its
# oned.conf is OpenNebula's MySQL sample), held against a real zone on MariaDB.


@pytest.fixture(scope="module")
def mysql_labs(labs: dict[str, Lab], real_mysql_lab: Lab) -> dict[str, Lab]:
    return {"sim": labs["sim"], "real": real_mysql_lab}


def _db_server(lab: Lab, node: str) -> str:
    _, conf, _ = lab.run(node, "cat /etc/one/oned.conf")
    return database.section(conf).server


def _mysql_answers(labs: dict[str, Lab], node: str, command: str) -> dict[str, tuple[int, str]]:
    """The answers with each tier's DB server as SERVER: the simulation's oned.conf names
    localhost, the real lab's each front-end's own address (lab/real/mariadb.py)."""
    answers = _refusal(labs, node, command)
    servers = {tier: _db_server(lab, node) for tier, lab in labs.items()}
    return {t: (rc, text.replace(servers[t], "SERVER")) for t, (rc, text) in answers.items()}


def test_the_mysql_lab_is_mysql_on_both_tiers(mysql_labs: dict[str, Lab]) -> None:
    for tier, lab in mysql_labs.items():
        _, conf, _ = lab.run("fe1", "cat /etc/one/oned.conf")
        db = database.section(conf)
        assert (db.backend, db.user, db.name) == ("mysql", "oneadmin", "opennebula"), tier
    assert _db_server(mysql_labs["sim"], "fe1") == "localhost"
    assert _db_server(mysql_labs["real"], "fe1") == mysql_labs["real"].address("fe1")


def test_onedb_backup_to_a_file_reads_alike_on_mysql(mysql_labs: dict[str, Lab]) -> None:
    file = "/var/lib/one/differential-mysql.sql"
    answers = _mysql_answers(mysql_labs, "fe2", f"onedb backup {file}")
    assert answers["sim"] == answers["real"]
    assert answers["real"] == (
        0,
        f"MySQL dump stored in {file}\n"
        "Use 'onedb restore' or restore the DB using the mysql command:\n"
        "mysql -u user -h server -P port db_name < backup_file",
    )
    again = _mysql_answers(mysql_labs, "fe2", f"onedb backup {file}")
    assert again["sim"] == again["real"]
    assert again["real"] == (255, f"File {file} exists, backup aborted. Use -f to overwrite.")


def test_onedb_backup_names_its_own_file_alike_on_mysql(mysql_labs: dict[str, Lab]) -> None:
    answers = _mysql_answers(mysql_labs, "fe3", "onedb backup")
    stamp = re.compile(r"\d{4}-\d{1,2}-\d{1,2}_\d{1,2}:\d{1,2}:\d{1,2}")
    named = {t: (rc, stamp.sub("DATE", text)) for t, (rc, text) in answers.items()}
    assert named["sim"] == named["real"]
    assert named["real"][1].startswith(
        "MySQL dump stored in /var/lib/one/mysql_SERVER_opennebula_DATE.sql\n"
    ), named["real"]


def test_onedb_restore_refuses_an_existing_mysql_database_alike(
    mysql_labs: dict[str, Lab],
) -> None:
    file = "/var/lib/one/differential-mysql-restore.sql"
    for tier, lab in mysql_labs.items():
        rc, out, err = lab.run("fe3", f"onedb backup {file}")
        assert rc == 0, (tier, out + err)
    running = _mysql_answers(mysql_labs, "fe3", f"onedb restore {file}")
    assert running["sim"] == running["real"]
    assert running["real"][0] == 255
    for lab in mysql_labs.values():
        lab.run("fe3", "systemctl stop opennebula", timeout=120)
    try:
        stopped = _mysql_answers(mysql_labs, "fe3", f"onedb restore {file}")
        missing = _mysql_answers(mysql_labs, "fe3", "onedb restore -f /var/lib/one/no-dump.sql")
    finally:
        for lab in mysql_labs.values():
            lab.run("fe3", "systemctl start opennebula", timeout=120)
    assert stopped["sim"] == stopped["real"]
    assert stopped["real"] == (
        255,
        "MySQL database opennebula at SERVER exists, use -f to overwrite.",
    )
    assert missing["sim"] == missing["real"]
    assert missing["real"][0] == 255
    _wait_follower(mysql_labs["real"], "fe3")


def _wait_follower(lab: Lab, node: str) -> None:
    """The restarted server back as a follower (the next module upgrades this lab)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rc, out, _ = lab.run("fe1", "onezone show 0 -j")
        if rc == 0:
            pool = json.loads(out)["ZONE"].get("SERVER_POOL") or {}
            found = pool.get("SERVER", [])
            servers = [found] if isinstance(found, dict) else found
            if any(s["NAME"] == node and s.get("STATE") == "2" for s in servers):
                return
        time.sleep(1)
    raise AssertionError(f"{node} did not come back as a follower")
