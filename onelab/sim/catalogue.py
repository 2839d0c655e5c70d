"""What OpenNebula ships: releases, schemas, packages, units, repositories."""

from __future__ import annotations

SERIES: dict[str, list[str]] = {
    "6.8": ["6.8.0", "6.8.1", "6.8.2", "6.8.3"],
    "6.10": ["6.10.0", "6.10.1", "6.10.2", "6.10.3", "6.10.4", "6.10.5"],
    "7.0": ["7.0.0", "7.0.1", "7.0.2"],
    "7.2": ["7.2.0"],
    "7.4": ["7.4.0"],
}
SERIES_ORDER = list(SERIES)
RELEASES = [r for s in SERIES_ORDER for r in SERIES[s]]

FRONTEND_PACKAGES = [
    "opennebula",
    "opennebula-tools",
    "opennebula-common",
    "opennebula-libs",
    "opennebula-common-onecfg",
    "opennebula-rubygems",
    "opennebula-gate",
    "opennebula-flow",
    "opennebula-fireedge",
    "opennebula-guacd",
    "opennebula-migration",
    "opennebula-migration-community",
    "python3-pyone",
    "opennebula-provision",
    "opennebula-sunstone",
    "opennebula-form",
]
NODE_PACKAGES = ["opennebula-node-kvm", "opennebula-node-lxc"]
# Each package's OpenNebula siblings, all at its own version (`Depends: X (= ${source:Version})`
# in OpenNebula's packaging; the real tier's packages say the same, lab/real/packaging.py):
# apt moves a sibling with the package that needs it, and a package with the sibling it needs.
DEPENDS: dict[str, tuple[str, ...]] = {
    "opennebula": ("opennebula-common", "opennebula-libs", "opennebula-tools",
                   "opennebula-common-onecfg", "opennebula-rubygems"),
    "opennebula-tools": ("opennebula-libs", "opennebula-common"),
    "opennebula-libs": ("opennebula-common",),
    "opennebula-common-onecfg": ("opennebula-libs",),
    "opennebula-gate": ("opennebula-libs", "opennebula-common"),
    "opennebula-flow": ("opennebula-libs", "opennebula-common"),
    "opennebula-fireedge": ("opennebula-common",),
    "opennebula-guacd": ("opennebula-common",),
    "opennebula-sunstone": ("opennebula-common",),
    "opennebula-provision": ("opennebula",),
    "opennebula-migration": ("opennebula",),
    "opennebula-migration-community": ("opennebula",),
    "opennebula-form": ("opennebula-common",),
    "opennebula-node-kvm": ("opennebula-common",),
    "opennebula-node-lxc": ("opennebula-common",),
}  # fmt: skip
LIBVIRT_UNIT = "libvirtd.service"
LIBVIRT_VERSION = "9.0.0"
NGINX_VERSION = "1.22.1"

UNIT_DESCRIPTIONS = {
    "opennebula.service": "OpenNebula Cloud Controller Daemon",
    "opennebula-scheduler.service": "OpenNebula Cloud Scheduler Daemon",
    "opennebula-hem.service": "OpenNebula Hook Execution Service",
    "opennebula-flow.service": "OpenNebula Flow Service",
    "opennebula-gate.service": "OpenNebula Gate Service",
    "opennebula-fireedge.service": "OpenNebula FireEdge Server",
    "opennebula-guacd.service": "OpenNebula Guacamole Server",
    "opennebula-ssh-agent.service": "OpenNebula SSH agent",
    "opennebula-ssh-socks-cleaner.service": "OpenNebula SSH persistent connection cleaner",
    "opennebula-ssh-socks-cleaner.timer": "OpenNebula SSH persistent connection cleaner timer",
    "opennebula-showback.service": "OpenNebula's periodic showback calculation",
    "opennebula-showback.timer": "OpenNebula's periodic showback calculation timer",
    "opennebula-sunstone.service": "OpenNebula Web UI Server",
    "opennebula-novnc.service": "OpenNebula noVNC Server",
    "opennebula-form.service": "OpenNebula Form Service",
    "nginx.service": "A high performance web server and a reverse proxy server",
    "libvirtd.service": "Virtualization daemon",
}


def vkey(version: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in version.replace("-", ".").split("."):  # re.split(r"[.-]"), without re
        out.append(int(part) if part.isdigit() else 0)
    return tuple(out)


def series_of(release: str) -> str:
    for series, releases in SERIES.items():
        if release in releases:
            return series
    parts = release.split(".")
    return ".".join(parts[:2])


def resolve_release(text: str) -> str:
    """ "6.10" -> newest 6.10.x; "6.10.2" -> itself; ValueError otherwise."""
    text = text.strip()
    if text in SERIES:
        return SERIES[text][-1]
    if text in RELEASES:
        return text
    raise ValueError(f"unknown OpenNebula release {text!r}")


def next_series(release: str) -> str:
    """ "6.10.5" -> "7.0"."""
    series = series_of(resolve_release(release))
    idx = SERIES_ORDER.index(series)
    if idx + 1 >= len(SERIES_ORDER):
        raise ValueError(f"no series after {series}")
    return SERIES_ORDER[idx + 1]


def schema(release: str) -> str:
    return f"{series_of(release)}.0"


def schema_chain(start: str, end: str) -> list[tuple[str, str]]:
    """Migrator steps between two schemas, e.g. 6.8.0 -> 6.10.0 -> 7.0.0."""
    schemas = [f"{s}.0" for s in SERIES_ORDER]
    if start not in schemas or end not in schemas:
        return []
    i, j = schemas.index(start), schemas.index(end)
    return [(schemas[k], schemas[k + 1]) for k in range(i, j)]


def package_exists(pkg: str, release: str) -> bool:
    """Whether a package is built for a release."""
    key = vkey(release)
    if pkg in ("opennebula-provision", "opennebula-sunstone"):
        return key < (7, 0)
    if pkg == "opennebula-form":
        return key >= (7, 2)
    # onedb's migrators: 6.x Community Edition ships none with OpenNebula; its operators
    # get `opennebula-migration-community` (here: offered by the 6.x repositories, never
    # installed at first). From 7.0 `opennebula-migration` carries them.
    if pkg == "opennebula-migration":
        return key >= (7, 0)
    if pkg == "opennebula-migration-community":
        return key < (7, 0)
    return pkg in FRONTEND_PACKAGES or pkg in NODE_PACKAGES


MIGRATION_PACKAGES = ("opennebula-migration", "opennebula-migration-community")


def has_migrators(installed: dict[str, dict[str, str]], release: str) -> bool:
    """Whether onedb finds the migrators to `release`'s schema on the node."""
    return any(
        series_of(installed[p]["version"]) == series_of(release)
        for p in MIGRATION_PACKAGES
        if p in installed
    )


def frontend_packages(release: str) -> list[str]:
    return [p for p in FRONTEND_PACKAGES if package_exists(p, release)]


def node_packages(hypervisor: str) -> list[str]:
    return [f"opennebula-node-{hypervisor}", "opennebula-common"]


def libvirt_package(os_name: str) -> str:
    return "libvirt" if os_name == "alma9" else "libvirt-daemon-system"


def units_of(pkg: str, release: str) -> list[str]:
    """The systemd units a package ships at a release."""
    key = vkey(release)
    if pkg == "opennebula":
        units = [
            "opennebula.service",
            "opennebula-hem.service",
            "opennebula-ssh-agent.service",
            "opennebula-ssh-socks-cleaner.service",
            "opennebula-ssh-socks-cleaner.timer",
            "opennebula-showback.service",
            "opennebula-showback.timer",
        ]
        if key < (7, 0):
            units.insert(1, "opennebula-scheduler.service")
        return units
    if pkg == "opennebula-sunstone":  # 6.10 still ships Ruby Sunstone's units
        return ["opennebula-sunstone.service", "opennebula-novnc.service"]
    simple = {
        "opennebula-flow": "opennebula-flow.service",
        "opennebula-gate": "opennebula-gate.service",
        "opennebula-fireedge": "opennebula-fireedge.service",
        "opennebula-guacd": "opennebula-guacd.service",
        "opennebula-form": "opennebula-form.service",
    }
    if pkg in simple:
        return [simple[pkg]]
    if pkg in ("libvirt", "libvirt-daemon-system"):
        return [LIBVIRT_UNIT]
    if pkg == "nginx":
        return ["nginx.service"]
    return []


def leader_only_units() -> list[str]:
    """Started by the RAFT leader hook only (reference pitfall 17)."""
    return [
        "opennebula-flow.service",
        "opennebula-gate.service",
        "opennebula-hem.service",
        "opennebula-showback.timer",
    ]


def deb_version(release: str) -> str:
    return f"{release}-1"


def rpm_release() -> str:
    return "1.el9"


# ----------------------------------------------------------------- repositories

REPO_URL = r"https?://[^\s]*?/repo/(?P<ver>[0-9][0-9.]*)/(?P<distro>[^\s]+)"


def repo_url(release: str, os_name: str) -> str:
    series = series_of(release)
    if os_name == "alma9":
        return f"https://downloads.opennebula.io/repo/{series}/AlmaLinux/$releasever/$basearch"
    distro = {"ubuntu24.04": "Ubuntu/24.04", "debian11": "Debian/11"}.get(os_name, "Debian/12")
    return f"https://downloads.opennebula.io/repo/{series}/{distro}"


def apt_sources(release: str, os_name: str) -> str:
    url = repo_url(release, os_name)
    return f"deb [signed-by=/etc/apt/keyrings/opennebula.gpg] {url} stable opennebula\n"


def yum_repo(release: str) -> str:
    url = repo_url(release, "alma9")
    return (
        "[opennebula]\n"
        "name=OpenNebula Community Edition\n"
        f"baseurl={url}\n"
        "enabled=1\n"
        "gpgkey=https://downloads.opennebula.io/repo/repo2.key\n"
        "gpgcheck=1\n"
        "repo_gpgcheck=1\n"
    )


def releases_for_url(url: str) -> list[str]:
    """Releases a repository URL offers: a series, an exact release, or nothing."""
    import re  # here: `re` costs ~6 ms of every simulated command's start-up

    m = re.search(REPO_URL, url)
    if not m:
        return []
    ver = m.group("ver").rstrip(".")
    if ver in SERIES:
        return list(SERIES[ver])
    if ver in RELEASES:
        return [ver]
    return []


def offered(urls: list[str]) -> dict[str, list[str]]:
    """package -> releases offered (ascending) by a set of repository URLs."""
    out: dict[str, set[str]] = {}
    for url in urls:
        for rel in releases_for_url(url):
            for pkg in FRONTEND_PACKAGES + NODE_PACKAGES:
                if package_exists(pkg, rel):
                    out.setdefault(pkg, set()).add(rel)
    return {p: sorted(v, key=vkey) for p, v in out.items()}
