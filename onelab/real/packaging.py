"""Debian packages made from a staged build, named as OpenNebula's, and an apt repository
laid out like OpenNebula's: CACHE/repo/<series>/Debian/12/{pool,dists/stable/...}.

Every file of the staged tree goes to the first package whose rule matches its path; files
under /etc are dpkg conffiles. `oneadmin` is made by opennebula-common's postinst, as the
official packages do. Sunstone, FireEdge, guacd and provision are stand-ins (their units run
a process that says so), so that the package set and the units an upgrade meets are real.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from .build import CACHE, RUNTIME_DEPENDS, Build, series_of

# The rules and scripts of this module as it was loaded (not as the file is now: an edit
# during a long build must not label the old packages with the new rules).
RECIPE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
SUITE = "stable"
COMPONENT = "opennebula"
MAINTAINER = "oneupgrade lab <lab@localhost>"
# Not shipped by the packages the lab makes: monitoring stacks, headers, unbuilt UIs.
DROPPED = re.compile(
    r"^(lib/|usr/include/|var/lib/(alertmanager|prometheus)|etc/one/(alertmanager|prometheus)"
    r"|usr/lib/one/(alertmanager|prometheus|node_exporter|libvirt_exporter|opennebula_exporter)"
    r"|usr/share/one/(prometheus|grafana)|usr/share/man/|usr/share/doc/one/)"
)


@dataclass(frozen=True)
class Package:
    name: str
    rules: tuple[str, ...]  # path regexes (relative to the staged root)
    depends: tuple[str, ...] = ()  # sibling packages, at the same version
    external: tuple[str, ...] = ()  # Debian packages
    description: str = ""
    stand_in: bool = False


_UNIT = "usr/lib/systemd/system/"
PACKAGES: tuple[Package, ...] = (
    Package("opennebula-migration", (r"usr/lib/one/ruby/onedb/(local|shared)/.",),
            ("opennebula",), description="onedb migrators"),
    Package("opennebula-gate", (r"usr/lib/one/onegate/", r"usr/bin/onegate-server",
            r"etc/one/onegate-server\.conf", _UNIT + r"opennebula-gate\.",
            r"etc/logrotate\.d/opennebula-gate"), ("opennebula-libs", "opennebula-common"),
            ("ruby-sinatra", "thin", "ruby-ipaddress"), description="OneGate server"),
    Package("opennebula-flow", (r"usr/lib/one/oneflow/", r"usr/bin/oneflow-server",
            r"etc/one/oneflow-server\.conf", _UNIT + r"opennebula-flow\.",
            r"etc/logrotate\.d/opennebula-flow"), ("opennebula-libs", "opennebula-common"),
            ("ruby-sinatra", "thin", "ruby-ipaddress"), description="OneFlow server"),
    Package("opennebula-sunstone", (r"usr/bin/(sunstone|novnc)-server", r"etc/one/sunstone",
            _UNIT + r"opennebula-(sunstone|novnc)\.",
            r"etc/logrotate\.d/opennebula-(sunstone|novnc)"),
            ("opennebula-common",), description="Sunstone (stand-in)", stand_in=True),
    Package("opennebula-fireedge", (r"etc/one/fireedge", _UNIT + r"opennebula-fireedge\.",
            r"etc/logrotate\.d/opennebula-fireedge"), ("opennebula-common",),
            description="FireEdge (stand-in)", stand_in=True),
    Package("opennebula-guacd", (r"etc/one/guacd", _UNIT + r"opennebula-guacd\."),
            ("opennebula-common",), description="Guacamole proxy (stand-in)", stand_in=True),
    Package("opennebula-provision", (r"usr/lib/one/oneprovision/", r"usr/bin/oneprovi",
            r"usr/share/one/oneprovision/", r"etc/one/oneprovision"), ("opennebula",),
            description="OneProvision"),
    Package("opennebula-common-onecfg", (r"usr/lib/one/onecfg/", r"usr/bin/onecfg",
            r"usr/share/one/onecfg/", r"etc/onecfg"), ("opennebula-libs",), ("ruby-git",),
            description="onecfg, the configuration upgrade tool"),
    Package("opennebula-tools", (r"usr/lib/one/ruby/cli/", r"etc/one/cli/",
            r"usr/bin/one(acct|acl|backupjob|cluster|datastore|flow|flow-template|group|hook"
            r"|host|image|irb|log|market|marketapp|secgroup|showback|template|user|vcenter|vdc"
            r"|vm|vmgroup|vnet|vntemplate|vrouter|zone)$"),
            ("opennebula-libs", "opennebula-common"),
            description="command-line tools"),
    Package("opennebula-libs", (r"usr/lib/one/ruby/(opennebula|opennebula\.rb|cloud/|vendors/"
            r"|one_lab_augeas\.rb)", r"usr/lib/ruby/vendor_ruby/"), ("opennebula-common",),
            ("ruby", "ruby-xmlrpc", "ruby-nokogiri", "ruby-json", "ruby-augeas"),
            description="Ruby bindings (OCA)"),
    Package("opennebula-node-kvm", (r"etc/sudoers\.d/opennebula-node-kvm",
            r"usr/lib/tmpfiles\.d/opennebula-node\.conf"), ("opennebula-common",),
            ("ruby", "rsync"), description="KVM node (the lab's hosts run the dummy drivers)"),
    Package("opennebula-common", (r"usr/lib/tmpfiles\.d/opennebula-common\.conf",
            r"etc/sudoers\.d/opennebula$", r"usr/lib/one-lab/", r"usr/share/augeas/"),
            (), ("sudo", "openssh-client"), description="common files and the oneadmin account"),
    Package("opennebula", (r".",), ("opennebula-common", "opennebula-libs", "opennebula-tools",
            "opennebula-common-onecfg"), RUNTIME_DEPENDS,
            description="the OpenNebula daemon, scheduler, monitor, hook manager and onedb"),
)  # fmt: skip

# Where onecfg keeps its configuration snapshots; the file naming the one an upgrade took.
CONFIG_SNAPSHOTS = "/var/lib/one/backups/config"
PENDING_SNAPSHOT = f"{CONFIG_SNAPSHOTS}/.pending-upgrade-snapshot"
COMMON_POSTINST = """\
#!/bin/sh
set -e
# The account OpenNebula runs as (uid and gid 9869, as OpenNebula's packages make it).
if ! getent group oneadmin >/dev/null; then groupadd -g 9869 oneadmin; fi
if ! getent passwd oneadmin >/dev/null; then
    useradd -u 9869 -g oneadmin -d /var/lib/one -s /bin/bash -c OpenNebula oneadmin
fi
mkdir -p /var/lib/one /var/log/one /var/lock/one /run/one
chown oneadmin:oneadmin /var/lib/one /var/log/one /var/lock/one /run/one
"""
SERVER_POSTINST = """\
#!/bin/sh
set -e
chown -R oneadmin:oneadmin /etc/one /var/lib/one /var/log/one
# First install: oneadmin's credentials and SSH key, as OpenNebula's package does.
if [ ! -f /var/lib/one/.one/one_auth ]; then
    mkdir -p /var/lib/one/.one
    echo "oneadmin:$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')" > /var/lib/one/.one/one_auth
    chmod 600 /var/lib/one/.one/one_auth
    chown -R oneadmin:oneadmin /var/lib/one/.one
fi
if [ ! -f /var/lib/one/.ssh/id_rsa ]; then
    mkdir -p /var/lib/one/.ssh
    ssh-keygen -q -t rsa -b 3072 -N '' -f /var/lib/one/.ssh/id_rsa
    cp /var/lib/one/.ssh/id_rsa.pub /var/lib/one/.ssh/authorized_keys
    chmod 700 /var/lib/one/.ssh
    chown -R oneadmin:oneadmin /var/lib/one/.ssh
fi
# onecfg's state, where onecfg has migrators (7.0 and later; 6.10 Community Edition's onecfg
# has only `patch`): an upgrade hands the preinst's snapshot of the old configuration to the
# next `onecfg upgrade` as its one-shot source, with the config version set to the old
# release if none was kept; a first install starts at this release (`onecfg init`).
if [ -d /usr/share/one/onecfg/migrators ]; then
    if [ -f @PENDING@ ]; then
        snapshot=$(cat @PENDING@)
        ruby -ryaml -e '
            file = "/etc/onecfg.conf"
            state = (File.exist?(file) && YAML.load_file(file)) || {}
            state["version"] ||= ARGV[0]
            state["backup"] = ARGV[1]
            File.write(file, state.to_yaml)' "$(cat "$snapshot/version")" "$snapshot"
        rm -f @PENDING@
    elif [ ! -f /etc/onecfg.conf ]; then
        onecfg init >/dev/null
    fi
fi
""".replace("@PENDING@", PENDING_SNAPSHOT)
# dpkg runs the new package's preinst with the old release still installed: the moment to
# keep the old configuration for onecfg, as OpenNebula's packages do.
SERVER_PREINST = """\
#!/bin/sh
set -e
if [ "$1" = upgrade ] && [ -n "$2" ] && [ "$2" != "$3" ] && [ -d /etc/one ]; then
    old=${2%-*}
    snapshot=@SNAPSHOTS@/$(date +%Y-%m-%d_%H:%M:%S)-v$old
    mkdir -p "$snapshot/etc" "$snapshot/var/lib/one"
    cp -a /etc/one "$snapshot/etc/one"
    if [ -d /var/lib/one/remotes ]; then cp -a /var/lib/one/remotes "$snapshot/var/lib/one/"; fi
    echo "$old" > "$snapshot/version"
    echo "$snapshot" > @PENDING@
fi
""".replace("@PENDING@", PENDING_SNAPSHOT).replace("@SNAPSHOTS@", CONFIG_SNAPSHOTS)

SCRIPTS = {
    "opennebula-common": {"postinst": COMMON_POSTINST},
    "opennebula": {"preinst": SERVER_PREINST, "postinst": SERVER_POSTINST},
}


def package_version(release: str) -> str:
    return f"{release}-1"


def _assign(root: Path) -> dict[str, list[str]]:
    """Staged file -> package: the first rule that matches its path."""
    compiled = [(p, [re.compile(r) for r in p.rules]) for p in PACKAGES]
    owned: dict[str, list[str]] = {p.name: [] for p in PACKAGES}
    for dirpath, dirs, files in os.walk(root):
        # An empty directory is an entry of its own (the probes' folders are empty).
        empty = [d + "/" for d in dirs if not os.listdir(os.path.join(dirpath, d))]
        for fname in files + empty:
            rel = os.path.relpath(os.path.join(dirpath, fname), root)
            rel += "/" if fname.endswith("/") else ""
            if rel.startswith(".") or DROPPED.match(rel):
                continue
            for package, rules in compiled:
                if any(r.match(rel) for r in rules):
                    owned[package.name].append(rel)
                    break
    return owned


def _control(package: Package, version: str, arch: str, size_kb: int) -> str:
    depends = [f"{d} (= {version})" for d in package.depends] + list(package.external)
    lines = [
        f"Package: {package.name}",
        f"Version: {version}",
        f"Architecture: {arch}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {size_kb}",
        "Section: admin",
        "Priority: optional",
        "Homepage: https://opennebula.io",
    ]
    if depends:
        lines.append(f"Depends: {', '.join(depends)}")
    if package.name == "opennebula":
        # 7.0 dropped these units' packages; their files move into or out of opennebula.
        lines.append("Replaces: opennebula-sunstone (<< 7.0), opennebula-provision (<< 7.0)")
    what = f"OpenNebula {package.description}"
    tail = " (lab build from the upstream source)"
    if package.stand_in:
        tail = " (lab stand-in: its unit runs a process that serves nothing)"
    lines.append(f"Description: {what}{tail}")
    return "\n".join(lines) + "\n"


def make_debs(build: Build, out: Path) -> list[Path]:
    """One .deb per package that has files (or is a stand-in) for this release."""
    version = package_version(build.release)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    owned = _assign(build.stage)
    made = []
    for package in PACKAGES:
        files = owned[package.name]
        if not files and package.name != "opennebula-node-kvm":
            continue
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            root = Path(tmp)
            for rel in files:
                dst = root / rel
                if rel.endswith("/"):
                    dst.mkdir(parents=True, exist_ok=True)
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(build.stage / rel, dst, follow_symlinks=False)
            size = sum(os.lstat(root / rel).st_size for rel in files if not rel.endswith("/"))
            meta = root / "DEBIAN"
            meta.mkdir()
            (meta / "control").write_text(_control(package, version, arch, size // 1024 + 1))
            conffiles = sorted("/" + r for r in files if r.startswith("etc/") and r[-1] != "/")
            if conffiles:
                (meta / "conffiles").write_text("\n".join(conffiles) + "\n")
            for kind, script in SCRIPTS.get(package.name, {}).items():
                (meta / kind).write_text(script)
                (meta / kind).chmod(0o755)
            deb = out / f"{package.name}_{version}_{arch}.deb"
            done = subprocess.run(
                ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise LabError(f"dpkg-deb {package.name}: {done.stderr.strip()}")
            made.append(deb)
    return made


def _field_block(deb: Path, pool_rel: str) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True,
                             check=True).stdout.rstrip("\n")  # fmt: skip
    data = deb.read_bytes()
    return (
        f"{control}\nFilename: {pool_rel}\nSize: {len(data)}\n"
        f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"  # noqa: S324
    )


def repo_dir(series: str) -> Path:
    return CACHE / "repo" / series / "Debian" / "12"


def write_repository(builds: list[Build]) -> Path:
    """The repository of one series (every build given must be of it); rebuilt only when
    its builds changed. Returns CACHE/repo."""
    series = series_of(builds[0].release)
    target = repo_dir(series)
    recipe = RECIPE  # these rules, as loaded
    key = "\n".join([recipe, *sorted(b.stage.name for b in builds)]) + "\n"
    if (target / ".builds").exists() and (target / ".builds").read_text() == key:
        return CACHE / "repo"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".12-"))
    pool = tmp / "pool" / COMPONENT
    pool.mkdir(parents=True)
    blocks = []
    for build in builds:
        for deb in make_debs(build, pool):
            blocks.append(_field_block(deb, f"pool/{COMPONENT}/{deb.name}"))
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    rel_dir = f"{COMPONENT}/binary-{arch}"
    dists = tmp / "dists" / SUITE
    (dists / rel_dir).mkdir(parents=True)
    packages = "\n".join(blocks).encode()
    (dists / rel_dir / "Packages").write_bytes(packages)
    (dists / rel_dir / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    sums = []
    for name in ("Packages", "Packages.gz"):
        data = (dists / rel_dir / name).read_bytes()
        sums.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {rel_dir}/{name}")
    (dists / "Release").write_text(
        f"Origin: OpenNebula\nLabel: OpenNebula (lab build)\nSuite: {SUITE}\nCodename: {SUITE}\n"
        f"Architectures: {arch}\nComponents: {COMPONENT}\nSHA256:\n" + "\n".join(sums) + "\n"
    )
    (tmp / ".builds").write_text(key)
    tmp.chmod(0o755)
    if target.exists():
        old = target.with_name(f".old-{os.getpid()}")
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)
    return CACHE / "repo"
