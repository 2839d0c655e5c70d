"""dpkg's maintainer scripts of the lab's packages: the oneadmin account (opennebula-common's
postinst), oneadmin's credentials and SSH key, and onecfg's snapshot of the configuration
an upgrade replaces (opennebula's preinst and postinst)."""

from __future__ import annotations

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
