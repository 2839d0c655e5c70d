"""Debian packages made from a staged build, named as OpenNebula's (the apt repository
that serves them: repository.py).

Every file of the staged tree goes to the first package whose rule matches its path; files
under /etc are dpkg conffiles. `oneadmin` is made by opennebula-common's postinst, as the
official packages do. Sunstone, FireEdge, guacd and provision are stand-ins (their units run
a process that says so), so that the package set and the units an upgrade meets are real.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from .build import RUNTIME_DEPENDS, Build
from .maintscripts import SCRIPTS

# The files that make the packages and their repository, the key of a repository's contents.
RECIPE_FILES = ("packaging.py", "maintscripts.py", "repository.py")
# Those rules and scripts as they were loaded (not as the files are now: an edit during a
# long build must not label the old packages with the new rules).
RECIPE = hashlib.sha256(
    b"".join(Path(__file__).with_name(name).read_bytes() for name in RECIPE_FILES)
).hexdigest()[:8]
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
