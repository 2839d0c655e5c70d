"""The zone's hypervisors as hosts (the dummy IM and VMM, monitored over SSH as oneadmin)
and its VMs, made on the leader with the real CLI."""

from __future__ import annotations

import json
import shlex

from ..sim.spec import ClusterSpec, NodeSpec
from .shell import Runner, each, sh, wait
from .zonestate import as_list

VM_TEMPLATE = 'NAME = "lab-vm"\nCPU = 0.1\nVCPU = 1\nMEMORY = 64\n'


def add_hosts(lab: Runner, spec: ClusterSpec, leader: str) -> None:
    if not spec.hypervisors:
        return
    key = sh(lab, leader, "cat /var/lib/one/.ssh/id_rsa.pub").strip()

    def trust(hv: NodeSpec) -> None:
        sh(lab, hv.name,
           "install -d -o oneadmin -g oneadmin -m 700 /var/lib/one/.ssh && "
           f"echo {shlex.quote(key)} >> /var/lib/one/.ssh/authorized_keys && "
           "chown oneadmin:oneadmin /var/lib/one/.ssh/authorized_keys")  # fmt: skip

    each(spec.hypervisors, trust)
    for hv in spec.hypervisors:
        sh(lab, leader, f"onehost create {hv.name} -i dummy -v dummy")

    def monitored() -> bool:
        data = json.loads(sh(lab, leader, "onehost list -j"))
        hosts = as_list((data.get("HOST_POOL") or {}).get("HOST"))
        return len(hosts) == len(spec.hypervisors) and all(h["STATE"] == "2" for h in hosts)

    wait("every host MONITORED", monitored)


def add_vms(lab: Runner, spec: ClusterSpec, leader: str) -> None:
    if not spec.vms or not spec.hypervisors:
        return
    sh(lab, leader, f"printf %s {shlex.quote(VM_TEMPLATE)} > /tmp/lab-vm.tmpl && "
                    "onetemplate create /tmp/lab-vm.tmpl")  # fmt: skip
    sh(lab, leader, f"onetemplate instantiate lab-vm --multiple {spec.vms}")

    def running() -> bool:
        data = json.loads(sh(lab, leader, "onevm list -j"))
        vms = as_list((data.get("VM_POOL") or {}).get("VM"))
        states = {(v["STATE"], v["LCM_STATE"]) for v in vms}
        return len(vms) == spec.vms and states == {("3", "3")}

    wait("every VM RUNNING", running)
