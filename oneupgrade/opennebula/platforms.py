"""The operating systems each series certifies: its Platform Notes, as data.

A node whose OS the target does not support (7.2 dropped EL8 and Debian 11) is
refused in preflight: the target's packages are not built for it, and finding out
in step 4 costs an outage. Versions are compared as the notes write them: the major
version (AlmaLinux 9.4 is 9), Ubuntu's full release (24.04).
"""

from __future__ import annotations

from oneupgrade import releases

_NAMES = {
    "rhel": "Red Hat Enterprise Linux",
    "almalinux": "AlmaLinux",
    "ubuntu": "Ubuntu Server",
    "debian": "Debian",
}


Versions = tuple[str, ...]


def _table(el: Versions, ubuntu: Versions, debian: Versions) -> dict[str, Versions]:
    return {"rhel": el, "almalinux": el, "ubuntu": ubuntu, "debian": debian}


# series -> OS id -> versions: the Platform Notes
# of 6.10, 7.0 and 7.2 (front-ends and KVM nodes alike; LXC nodes have no RHEL).
_LTS = ("22.04", "24.04")
SUPPORTED: dict[str, dict[str, Versions]] = {
    "6.10": _table(("8", "9"), _LTS, ("11", "12")),
    "7.0": _table(("8", "9", "10"), _LTS, ("11", "12", "13")),
    "7.2": _table(("9", "10"), _LTS, ("12", "13")),
}


def _version(os_id: str, version_id: str) -> str:
    return version_id if os_id == "ubuntu" else version_id.split(".", 1)[0]


def problem(node: str, role: str, os_id: str, version_id: str, pretty: str, target: str) -> str:
    """Why `target` does not run on this node ("" when it does, or is not known here).

    `role`: "frontend", "kvm" or "lxc"."""
    series = releases.series_of(releases.resolve(target))
    table = SUPPORTED.get(series)
    if table is None:
        return ""  # no Platform Notes known for this series: nothing to hold it against
    allowed = {k: v for k, v in table.items() if not (role == "lxc" and k == "rhel")}
    versions = allowed.get(os_id)
    if versions is not None and _version(os_id, version_id) in versions:
        return ""
    what = {"frontend": "front-ends", "kvm": "KVM nodes", "lxc": "LXC nodes"}[role]
    listed = (
        f"{_NAMES[os_id]} {', '.join(versions)}"
        if versions
        else ", ".join(_NAMES[k] for k in allowed)
    )
    return (
        f"{node}: {pretty or os_id} is not a platform of OpenNebula {series} for {what} "
        f"(its Platform Notes: {listed}); upgrade the node's OS first, or choose a target "
        "that supports it"
    )
