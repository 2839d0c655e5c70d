"""Raft as the simulation sees it: membership, leader, sync, replicated writes.

Stored in the cluster state: which oned runs (and the SERVER_ID it read at
start), the leader and the term. Everything shown to clients is computed here.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


SYNC_LAG = 0.5  # a follower learns the leader's commit on the next heartbeat (500 ms)
BUSY_TICK = 0.1  # seconds between the leader's commits in a busy zone (monitoring writes)

State = dict[str, "Any"]  # a string: typing is not imported at run time


def address_of(endpoint: str) -> str:
    rest = endpoint.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit(":", 1)[0]


def servers(st: State) -> list[dict[str, Any]]:
    return list(st.get("servers", []))


def is_solo(st: State) -> bool:
    return not servers(st)


def is_running(st: State, name: str) -> bool:
    return name in st.get("oned", {}) and name not in st.get("down", [])


def correct_id(st: State, name: str) -> int | None:
    addr = st["nodes"][name]["address"]
    for s in servers(st):
        if address_of(s["endpoint"]) == addr:
            return int(s["id"])
    return None


def node_at(st: State, server: dict[str, Any]) -> str | None:
    addr = address_of(server["endpoint"])
    for name, spec in st["nodes"].items():
        if spec["address"] == addr:
            return str(name)
    return None


def classify(st: State) -> tuple[list[str], set[str]]:
    """(valid running members, broken running members)."""
    running = [n for n in st.get("oned", {}) if is_running(st, n)]
    claims: dict[int, list[str]] = {}
    for n in running:
        claims.setdefault(int(st["oned"][n]["server_id"]), []).append(n)
    valid: list[str] = []
    broken: set[str] = set()
    for n in running:
        read = int(st["oned"][n]["server_id"])
        if read == correct_id(st, n) and len(claims[read]) == 1:
            valid.append(n)
        else:
            broken.add(n)
    return valid, broken


def quorum(st: State) -> int:
    return len(servers(st)) // 2 + 1


def leader(st: State) -> str | None:
    name = st.get("raft", {}).get("leader")
    return str(name) if name else None


def db(st: State, name: str) -> dict[str, Any]:
    data = st["dbs"][name]
    assert isinstance(data, dict)
    return data


def in_sync(st: State, name: str, lead: str) -> bool:
    a, b = db(st, name), db(st, lead)
    return bool(a["lineage"] == b["lineage"] and a["schema"] == b["schema"])


def replicate(st: State) -> None:
    lead = leader(st)
    if lead is None:
        return
    src = db(st, lead)
    for n in st.get("oned", {}):
        if n != lead and is_running(st, n) and in_sync(st, n, lead):
            dst = db(st, n)
            import copy  # only replication needs it (weakref and copy cost every command)

            dst["data"] = copy.deepcopy(src["data"])
            dst["index"] = src["index"]


def _elect(st: State, name: str) -> None:
    raft = st.setdefault("raft", {"leader": None, "term": 0})
    raft["leader"] = name
    raft["term"] = int(raft.get("term", 0)) + 1
    db(st, name)["index"] += 1
    replicate(st)


def _best(st: State, candidates: list[str]) -> str:
    def key(n: str) -> tuple[int, int]:
        cid = correct_id(st, n)
        return (-int(db(st, n)["index"]), cid if cid is not None else 1 << 30)

    return sorted(candidates, key=key)[0]


def reconcile(st: State) -> None:
    """Re-evaluate leadership after oned starts/stops or a node goes up/down."""
    raft = st.setdefault("raft", {"leader": None, "term": 0})
    if is_solo(st):
        running = [n for n in st.get("oned", {}) if is_running(st, n)]
        raft["leader"] = running[0] if running else None
        return
    valid, _ = classify(st)
    if len(valid) < quorum(st):
        raft["leader"] = None
        return
    current = leader(st)
    if current in valid:
        replicate(st)
        return
    _elect(st, _best(st, valid))


def force_election(st: State, name: str | None) -> None:
    valid, _ = classify(st)
    if is_solo(st) or len(valid) < quorum(st):
        return
    current = leader(st)
    if name is not None:
        if name not in valid:
            raise ValueError(f"{name} is not a valid running member")
        choice = name
    else:
        others = [n for n in valid if n != current]
        if not others:
            return
        choice = _best(st, others)
    _elect(st, choice)


def _busy_commits(st: State, now: float) -> int:
    """Entries a busy zone's leader committed since it became busy (`Lab.busy_zone`)."""
    since = float(st.get("raft", {}).get("busy_since", 0.0))
    return int((now - since) / BUSY_TICK) if since and now > since else 0


def _follower_commit(st: State, name: str, now: float) -> int:
    """What a follower in sync shows as COMMIT: the leader's commit of one heartbeat ago.

    `onezone show` asks the servers one after another, and a follower learns the
    leader's commit index with the next append or heartbeat, so right after a write
    (or its own start) a healthy follower is one entry behind; a stalled one stays
    behind (`Lab.stall_follower`)."""
    raft = st.get("raft", {})
    lead = leader(st)
    assert lead is not None
    index = int(db(st, lead)["index"])
    if name in raft.get("stalled", []):
        return index - 3
    heard = now - SYNC_LAG
    since = float(raft.get("busy_since", 0.0))
    busy = int((heard - since) / BUSY_TICK) if since and heard > since else 0
    last = max(float(st["oned"][name].get("started", 0)), float(raft.get("committed_at", 0)))
    return index + busy - (1 if now - last < SYNC_LAG else 0)


RAFT_FIELDS = ("STATE", "TERM", "VOTEDFOR", "COMMIT", "LOG_INDEX", "FEDLOG_INDEX")


def _fields(
    st: State, s: dict[str, Any], name: str, broken: set[str], term: int, now: float
) -> dict[str, str]:
    """The raft fields of server `s`, whose oned runs on node `name`."""
    lead = leader(st)
    own = int(db(st, name)["index"])
    fields = {"VOTEDFOR": "-1", "FEDLOG_INDEX": "-1"}
    if name in broken:
        fields.update(
            STATE="1", TERM=str(term + 2 + int(s["id"])), COMMIT=str(own), LOG_INDEX=str(own)
        )
        fields["VOTEDFOR"] = str(st["oned"][name]["server_id"])
    elif lead is None:
        fields.update(STATE="1", TERM=str(term + 1), COMMIT=str(own), LOG_INDEX=str(own))
    elif name == lead:
        own += _busy_commits(st, now)
        fields.update(STATE="3", TERM=str(term), COMMIT=str(own), LOG_INDEX=str(own))
        fields["VOTEDFOR"] = str(s["id"])  # the leader voted for itself
    else:
        li = int(db(st, lead)["index"]) + _busy_commits(st, now)
        if in_sync(st, name, lead):
            commit = _follower_commit(st, name, now)
            fields.update(STATE="2", TERM=str(term), COMMIT=str(commit), LOG_INDEX=str(li))
        else:
            commit = own if own != li else li - 1
            fields.update(STATE="2", TERM=str(term), COMMIT=str(commit), LOG_INDEX=str(own))
    return {k: fields[k] for k in RAFT_FIELDS}


def rows(st: State, now: float | None = None) -> list[dict[str, str]]:
    """Per zone server: ENDPOINT, ID, NAME and the raft fields, as strings."""
    now = time.time() if now is None else now
    _valid, broken = classify(st)
    term = int(st.get("raft", {}).get("term", 0))
    out: list[dict[str, str]] = []
    dash = dict.fromkeys(RAFT_FIELDS, "-")
    for s in servers(st):
        row = {"ENDPOINT": s["endpoint"], "ID": str(s["id"]), "NAME": s["name"]}
        name = node_at(st, s)
        if name is None or not is_running(st, name):
            row.update(dash)
        else:
            row.update(_fields(st, s, name, broken, term, now))
        out.append(row)
    return out


def read_db(st: State, me: str) -> dict[str, Any]:
    """The database a client on `me` sees: the leader's, else its own."""
    lead = leader(st)
    return db(st, lead if lead is not None else me)


def write(st: State, method: str, *, allow_disabled: bool = False) -> tuple[Any, str | None]:
    """(leader DB data to mutate, error). Call commit() after mutating."""
    lead = leader(st)
    if lead is None:
        return None, f"[{method}] Cannot process request, oned cluster in election mode"
    data = db(st, lead)["data"]
    if int(data["zone"]["state"]) == 1 and not allow_disabled:
        return None, f"[{method}] Cannot process request, zone disabled"
    return data, None


def commit(st: State) -> None:
    lead = leader(st)
    if lead is None:
        return
    db(st, lead)["index"] += 1
    st["raft"]["committed_at"] = time.time()
    replicate(st)
