"""Step 1. Check Virtual Machine Status.

Doc (Upgrading High Availability Clusters, step 1): "Before proceeding, make sure
you don't have any VMs in a transient state (prolog, migrate, epilog, save). Wait
until these VMs get to a final state (running, suspended, stopped, done)."

The step waits up to --vm-timeout seconds, then fails naming the VMs; nothing has
been changed on the cluster at that point.
"""

import time

import pytest

from oneupgrade.cluster import Cluster
from oneupgrade.opennebula import onevm

pytestmark = pytest.mark.step(1, "Check Virtual Machine Status")


@pytest.mark.dependency(name="01-vms", depends=["00-hosts"], scope="session")
def test_no_vm_is_in_a_transient_state(cluster: Cluster) -> None:
    if cluster.journal.fact("stopped_for_upgrade") or cluster.control_plane_done:
        cluster.say("already done: the control plane was stopped or upgraded in this campaign")
        return
    deadline = time.monotonic() + cluster.vm_timeout
    while True:
        pool = onevm.vms(cluster.leader)
        busy = [vm for vm in pool if vm.transient_state]
        if not busy:
            # what a rollback counts as lost: the zone is disabled from step 2 on
            cluster.journal.remember_once("vms_before", sorted(vm.id for vm in pool))
            hosts = cluster.observed.get("hosts", [])
            cluster.journal.remember_once("hosts_before", sorted(h.id for h in hosts))
            return
        if time.monotonic() >= deadline or cluster.dry_run:
            names = ", ".join(f"VM {vm.id} ({vm.name}) in {vm.transient_state}" for vm in busy)
            pytest.fail(
                f"after {cluster.vm_timeout:g} s still in a transient state: {names}. "
                "Nothing was changed. Wait for them to settle (or resolve them), then rerun.",
                pytrace=False,
            )
        time.sleep(min(5.0, max(0.5, cluster.vm_timeout / 20)))
