"""What the staged install needs beyond `install.sh`: what OpenNebula's own packages add
(units, tmpfiles, sudoers, logrotate, the Augeas lens), the stand-ins for what the lab does
not build (Sunstone, FireEdge), and two compatibility fixes for Debian 12's Ruby libraries.
Every fix is named here; nothing else of OpenNebula is changed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# Debian 12's ruby-augeas is 0.5 (constructor `Augeas.open`); onedb, onezone and onecfg
# call the 0.6 API `Augeas.create(opts)`. This maps it onto 0.5, loaded after each
# `require 'augeas'` of OpenNebula's Ruby code.
AUGEAS_COMPAT = """\
# one-lab: Augeas.create (ruby-augeas 0.6 API) on Debian 12's ruby-augeas 0.5.
require 'augeas'

unless Augeas.respond_to?(:create)
    class Augeas
        def self.create(opts = {}, &block)
            flags = NONE
            flags |= NO_MODL_AUTOLOAD if opts[:no_modl_autoload]
            flags |= NO_LOAD if opts[:no_load]
            flags |= ENABLE_SPAN if opts[:enable_span]
            flags |= SAVE_BACKUP if opts[:save] == :backup
            flags |= SAVE_NEWFILE if opts[:save] == :newfile
            flags |= SAVE_NOOP if opts[:save] == :noop
            open(opts[:root], opts[:loadpath], flags, &block)
        end
    end
end
"""
_REQUIRE_AUGEAS = re.compile(r"^(\s*)require\s+['\"]augeas['\"]\s*$", re.M)
STAND_IN = "/usr/lib/one-lab/stand-in"
STAND_IN_SCRIPT = """\
#!/bin/sh
# one-lab: a stand-in for a component the lab does not build; it only stays up.
echo "$1: stand-in of the lab (not built from source); it serves nothing" >&2
exec sleep infinity
"""
# Units of components the lab does not build: their ExecStart runs the stand-in.
STAND_IN_UNITS = ("opennebula-fireedge", "opennebula-guacd", "opennebula-sunstone",
                  "opennebula-novnc")  # fmt: skip


def apply(src: Path, root: Path, release: str) -> None:
    _units(src, root)
    _package_files(src, root)
    _augeas(src, root)
    _load_path(root)
    _treetop(root)
    _drop_unbuilt(root)


def _units(src: Path, root: Path) -> None:
    """share/pkgs/services/systemd: the units, and pre_cleanup where the unit runs it."""
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for path in sorted((src / "share/pkgs/services/systemd").iterdir()):
        if path.suffix in (".service", ".timer"):
            text = path.read_text()
            if path.stem in STAND_IN_UNITS:
                text = re.sub(r"^ExecStart=.*$", f"ExecStart={STAND_IN} {path.stem}", text,
                              flags=re.M)  # fmt: skip
                text = re.sub(r"^(ExecStartPre|ExecStartPost|ExecStop|ExecReload|Assert\w*)=.*\n",
                              "", text, flags=re.M)  # fmt: skip
                text = re.sub(r"^Type=.*$", "Type=simple", text, flags=re.M)
            (units / path.name).write_text(text)
        elif path.name == "pre_cleanup":
            share = root / "usr/share/one"
            share.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, share / "pre_cleanup")
            (share / "pre_cleanup").chmod(0o755)
    stand_in = root / STAND_IN.lstrip("/")
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    stand_in.write_text(STAND_IN_SCRIPT)
    stand_in.chmod(0o755)


def _package_files(src: Path, root: Path) -> None:
    """tmpfiles, sudoers and logrotate files as OpenNebula's Debian packages install them."""
    pkgs = src / "share/pkgs"
    tmpfiles = root / "usr/lib/tmpfiles.d"
    tmpfiles.mkdir(parents=True, exist_ok=True)
    for path in (pkgs / "tmpfiles").iterdir():
        shutil.copy2(path, tmpfiles / path.name)
    sudoers = root / "etc/sudoers.d"
    sudoers.mkdir(parents=True, exist_ok=True)
    for name in ("opennebula", "opennebula-server", "opennebula-node-kvm"):
        found = pkgs / "sudoers" / name
        found = found if found.exists() else pkgs / "sudoers/debian" / name
        if found.exists():
            shutil.copy2(found, sudoers / name)
            (sudoers / name).chmod(0o440)
    logrotate = root / "etc/logrotate.d"
    logrotate.mkdir(parents=True, exist_ok=True)
    for path in (pkgs / "logrotate").iterdir():
        shutil.copy2(path, logrotate / path.name)


def _augeas(src: Path, root: Path) -> None:
    """OpenNebula's lens where Augeas finds it, and the 0.6 constructor on 0.5."""
    lenses = root / "usr/share/augeas/lenses"
    lenses.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "share/augeas/oned.aug", lenses / "oned.aug")
    ruby = root / "usr/lib/one/ruby"
    (ruby / "one_lab_augeas.rb").write_text(AUGEAS_COMPAT)
    for path in [*root.joinpath("usr/bin").iterdir(), *ruby.rglob("*.rb"),
                 *root.joinpath("usr/lib/one/onecfg").rglob("*.rb")]:  # fmt: skip
        if not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # a binary
        new = _REQUIRE_AUGEAS.sub(
            lambda m: f"{m.group(0)}\n{m.group(1)}require '/usr/lib/one/ruby/one_lab_augeas'",
            text,
        )
        if new != text:
            path.write_text(new)


def _load_path(root: Path) -> None:
    """7.0+: the Ruby tools `require 'load_opennebula_paths'` before /usr/lib/one/ruby is on
    the load path (the official packages put it on Ruby's own path), and it points Gems at
    the vendored gems unconditionally. The lab uses Debian's gems: only when present."""
    found = root / "usr/lib/one/ruby/load_opennebula_paths.rb"
    if not found.exists():
        return  # 6.10
    text = found.read_text().replace(
        "Gem.use_paths(File.realpath(GEMS_LOCATION))",
        "Gem.use_paths(File.realpath(GEMS_LOCATION)) if File.directory?(GEMS_LOCATION)",
    )
    found.write_text(text)
    vendor = root / "usr/lib/ruby/vendor_ruby"
    vendor.mkdir(parents=True, exist_ok=True)
    (vendor / "load_opennebula_paths.rb").write_text(text)


def _treetop(root: Path) -> None:
    """OneFlow checks `Gem.loaded_specs['treetop'].version`; Debian's Ruby loads treetop
    from its vendor folder without activating the gem, so the entry is nil. Activating it
    first (`gem 'treetop'`, which Debian's rubygems-integration serves) gives the check
    what it reads."""
    for path in root.joinpath("usr/lib/one/oneflow").rglob("*.rb"):
        text = path.read_text()
        if "Gem.loaded_specs['treetop']" in text:
            path.write_text(
                text.replace("require 'treetop'\n", "gem 'treetop'\nrequire 'treetop'\n", 1)
            )


def _drop_unbuilt(root: Path) -> None:
    """Sunstone and FireEdge are not built; what install.sh copied of them goes."""
    for rel in ("usr/lib/one/sunstone", "usr/lib/one/fireedge", "var/lib/one/sunstone",
                "usr/share/one/websockify"):  # fmt: skip
        shutil.rmtree(root / rel, ignore_errors=True)
