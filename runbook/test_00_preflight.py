"""Step 0. Preflight: everything that can be checked before the first change.

Not a step of the doc, but what its warnings ask for: every node reachable with
its pinned host key, an OS the target's Platform Notes list for its role, one
OpenNebula release on every front-end, a target that is newer and on a supported
path, the leader read from the zone (never from the inventory), the followers in
sync (a follower a heartbeat behind is re-read for a few seconds, see
opennebula/raft.py), every zone server and every OpenNebula host accounted for in
the inventory, and disk room for the backups. Nothing changes in this step.
"""

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.errors import CommandFailed
from oneupgrade.opennebula import (
    campaign,
    config,
    database,
    onecfg,
    onehost,
    onezone,
    probes,
    raft,
    safekeeping,
    survey,
    system,
)
from oneupgrade.transport.node import Node

pytestmark = pytest.mark.step(0, "Preflight")


@pytest.mark.dependency(name="00-ssh", scope="session")
def test_every_node_answers_over_ssh_with_its_pinned_host_key(cluster: Cluster) -> None:
    cluster.fan_out(cluster.nodes.values(), lambda node: node.connect())


@pytest.mark.dependency(depends=["00-ssh"], scope="session")
def test_the_database_is_read_and_its_password_kept_out_of_every_record(cluster: Cluster) -> None:
    # onedb reads oned.conf's DB section itself; the runbook only keeps its password out
    # of the report, the audit log and the terminal (opennebula/database.py).
    found = database.guard(cluster)
    backends = sorted({db.describe() for db in found.values()})
    cluster.say("database: " + "; ".join(backends))
    if any(db.mysql for db in found.values()):
        cluster.say(database.PROCESS_LIST_NOTE)


@pytest.mark.dependency(name="00-discover", depends=["00-ssh"], scope="session")
def test_the_hypervisors_are_read_from_opennebula_when_the_inventory_says_discover(
    cluster: Cluster,
) -> None:
    if not cluster.inventory.discover_hypervisors:
        cluster.say("the inventory lists the hypervisors")
        return
    for node in cluster.frontends:
        try:
            pool = onehost.hosts(node)
            break
        except CommandFailed:
            continue
    else:
        known = cluster.journal.fact("discovered_hypervisors")
        assert known is not None, "no front-end answers `onehost list`: is OpenNebula running?"
        cluster.say(f"oned is stopped: the {len(known)} hypervisor(s) read before are used")
        return
    found = [
        {"name": h.name, "address": h.name, "hypervisor": "lxc" if h.vm_mad == "lxc" else "kvm"}
        for h in pool
    ]
    cluster.observed["discovered_hypervisors"] = found  # campaign.begin journals it
    added = cluster.add_discovered(found)
    cluster.fan_out(added, lambda node: node.connect())
    cluster.say(
        f"{len(found)} hypervisor(s) read from onehost list: {', '.join(h.name for h in pool)}"
    )


@pytest.mark.dependency(name="00-releases", depends=["00-discover"], scope="session")
def test_every_node_runs_a_supported_os_and_a_known_release(cluster: Cluster) -> None:
    found = cluster.fan_out(cluster.nodes.values(), survey.survey_node)
    cluster.observed["survey"] = found
    problems = campaign.release_problems(cluster, found)
    problems += campaign.platform_problems(cluster, found)
    assert not problems, "\n".join(problems)
    campaign.begin(cluster, found)


@pytest.mark.dependency(name="00-zone", depends=["00-releases"], scope="session")
def test_the_leader_comes_from_the_zone_and_every_server_is_in_the_inventory(
    cluster: Cluster,
) -> None:
    seen = survey.zone_from_any(cluster.frontends, cluster.inventory.zone)
    if seen is None:
        # Only acceptable mid-campaign, after step 3 stopped the control plane.
        assert cluster.journal.fact("stopped_for_upgrade"), (
            "no front-end answers `onezone show`: is OpenNebula running? "
            "start it (systemctl start opennebula) before the upgrade"
        )
        assert cluster.journal.fact("leader"), "the leader is not known and oned is stopped"
        return
    zone, answered = seen
    cluster.observed["zone"] = zone
    if not zone.servers:
        assert len(cluster.frontends) == 1, (
            f"zone {zone.id} has no HA servers (a single front-end) but the inventory lists "
            f"{len(cluster.frontends)} front-ends"
        )
        leader: Node = cluster.frontends[0]
    else:
        zone, leader = _the_leader_of_the_ha_zone(cluster, zone, answered)
    if not cluster.journal.fact("stopped_for_upgrade"):
        cluster.journal.remember("leader", leader.name)
    cluster.journal.remember_once("zone_enabled_before", zone.enabled)
    cluster.journal.remember_once("raft_before", {s.name: s.role for s in zone.servers})


def _the_leader_of_the_ha_zone(
    cluster: Cluster, zone: onezone.Zone, answered: Node
) -> tuple[onezone.Zone, Node]:
    """Every zone server a front-end of the inventory and every front-end a server, the
    zone in sync (unless step 3 stopped it), each front-end's SERVER_ID its server's:
    (the zone as last read, the leader)."""
    mapped, server = onezone.servers_of(zone, cluster.frontends)
    assert server is None, (
        f"zone server {server.id} ({server.name}, {server.endpoint}) is not a front-end "
        "of the inventory: add it, the whole HA cluster is upgraded together"
    )
    missing = [n.name for n in cluster.frontends if n.name not in mapped]
    assert not missing, f"front-ends {missing} are not servers of zone {zone.id}"
    mid_campaign = cluster.journal.fact("stopped_for_upgrade")
    # A follower a heartbeat behind is in sync: re-read a moment before refusing.
    zone, problems = (
        (zone, []) if mid_campaign else raft.settle(lambda: onezone.zone(answered, zone.id))
    )
    if problems and not mid_campaign:
        pytest.fail(
            f"zone {zone.id} is not healthy before the upgrade: {'; '.join(problems)}",
            pytrace=False,
        )
    found = onezone.leader_of(mapped)
    leader = cluster.nodes[found] if found else cluster.leader
    for name, server in mapped.items():
        own = config.server_id(cluster.nodes[name].read_file(config.ONED_CONF))
        assert own == server.id, (
            f"{name}: oned.conf SERVER_ID is {own} but zone server {server.id} is this node"
        )
        cluster.journal.remember_once(f"server_id/{name}", server.id)
    return zone, leader


@pytest.mark.dependency(name="00-hosts", depends=["00-zone"], scope="session")
def test_every_opennebula_host_is_a_hypervisor_of_the_inventory(cluster: Cluster) -> None:
    if "zone" not in cluster.observed:
        return  # oned is stopped mid-campaign; the hosts were checked when it started
    pool = cluster.observed["hosts"] = onehost.hosts(cluster.leader)
    known = {n.name for n in cluster.hypervisors} | {n.address for n in cluster.hypervisors}
    strangers = [h.name for h in pool if h.name not in known]
    assert not strangers, (
        f"OpenNebula hosts {strangers} are not in the inventory's hypervisors: add them "
        "(every host is upgraded with the front-ends)"
    )
    names = {h.name for h in pool}
    absent = [n.name for n in cluster.hypervisors if n.name not in names and n.address not in names]
    assert not absent, f"inventory hypervisors {absent} are not OpenNebula hosts (onehost list)"


@pytest.mark.dependency(depends=["00-releases"], scope="session")
def test_no_known_issue_of_the_target_dooms_the_upgrade(cluster: Cluster) -> None:
    # What the target removed and its Known Issues, as data (opennebula/known_issues.py).
    seen = cluster.observed.get("survey", {})
    fronts = [seen[n.name].release for n in cluster.frontends if n.name in seen]
    if not fronts or all(system.at_target(v, cluster.target) for v in fronts):
        cluster.say("the front-ends run the target: no known issue of the upgrade left")
        return
    blocking, notes, checked = campaign.known_issue_findings(cluster, cluster.target)
    for line in notes:
        cluster.say(f"known issue, not blocking: {line}")
    cluster.say(f"known issues checked: {', '.join(checked) or 'none applies'}")
    assert not blocking, "\n".join(blocking)


@pytest.mark.dependency(depends=["00-releases"], scope="session")
def test_the_configuration_state_is_clean_before_the_stop(cluster: Cluster, frontend: Node) -> None:
    # Step 7 of the single front-end page: "ensure that the configuration state is
    # clean" before upgrading; read before the stop, where fixing it costs no outage.
    seen = cluster.observed.get("survey", {}).get(frontend.name)
    if seen is None or system.at_target(seen.release, cluster.target):
        return  # upgraded already: step 4's own `onecfg status` judges it
    result = onecfg.status(frontend)
    if result is None:
        cluster.say(f"{frontend}: onecfg has no status here (Community Edition before 7.0)")
        return
    refusals, notes = onecfg.before_the_stop(frontend, result)
    for note in notes:
        cluster.say(note)
    assert not refusals, "\n".join(refusals)


@pytest.mark.dependency(depends=["00-releases"], scope="session")
def test_custom_monitoring_probes_are_found(cluster: Cluster, frontend: Node) -> None:
    # Step 11 leaves them to the operator: found now, kept by step 4, listed in the report.
    seen = cluster.observed.get("survey", {})
    older = [
        n
        for n in cluster.frontends
        if n.name in seen and not system.at_target(seen[n.name].release, cluster.target)
    ]
    # every front-end's answer at once (one round trip, not one per front-end)
    answers = cluster.look_once(
        "custom_probes", older, lambda n: probes.custom_probes(n, seen[n.name].platform.family)
    )
    if frontend.name not in answers:
        return
    found = answers[frontend.name]
    if isinstance(found, Exception):
        raise found
    cluster.journal.remember(f"custom_probes/{frontend}", found)  # a dry run saves none
    if found:
        cluster.say(f"{frontend}: custom monitoring probes {', '.join(found)}: {probes.REMEDY}")


@pytest.mark.dependency(depends=["00-hosts"], scope="session")
def test_there_is_room_for_the_backups(cluster: Cluster, frontend: Node) -> None:
    # The configuration copies and the dumps the run writes land on the same file
    # systems: pre-upgrade, replication, `onedb upgrade -b`, `onedb fsck -b`.
    db = database.guard(cluster).get(frontend.name) or database.of(frontend)
    if db.mysql and not db.local_to(frontend.address):
        cluster.say(f"{frontend}: {db.describe()}: its dumps' size is not known here")
    sizes = survey.backup_sizes_kib(frontend, db)
    cluster.observed.setdefault("backup_kib", {})[frontend.name] = sizes
    need = 2 * (sizes["configuration"]) + survey.DUMPS_PER_RUN * sizes["database"]
    free = survey.free_kib(frontend, "/var/lib/one")
    assert free > need + 100 * 1024, (
        f"{frontend}: only {free // 1024} MiB free in /var/lib/one; the backups need "
        f"{need // 1024} MiB (the configuration twice, {survey.DUMPS_PER_RUN} database "
        f"dumps of {sizes['database'] // 1024} MiB) plus 100 MiB: free some space"
    )


@pytest.mark.dependency(depends=["00-hosts"], scope="session")
def test_the_controller_has_room_for_its_copies_of_the_backups(cluster: Cluster) -> None:
    # Step 4 keeps each front-end's dump and configuration copy here too.
    sizes = cluster.observed.get("backup_kib", {})
    need = sum(s["configuration"] + s["database"] for s in sizes.values())
    where = safekeeping.store_of(cluster.journal)
    free = survey.local_free_kib(where)
    assert free > need + 100 * 1024, (
        f"this controller has only {free // 1024} MiB free for {where}; the copies of the "
        f"front-ends' backups need {need // 1024} MiB plus 100 MiB: free some space or "
        "give another --report-dir"
    )
