"""Steps 4 to 9 of "Upgrading Single Front-end" on one front-end, and the DB replication.

The HA guide runs these steps on the leader (its step 4) and on every follower (its
step 5). Each sub-step looks at the node first and acts only when its work is not
done yet, so a rerun after a failure picks up where the node is.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass

from oneupgrade import releases
from oneupgrade.audit.journal import Journal
from oneupgrade.errors import CommandFailed, PreconditionFailed
from oneupgrade.opennebula import config, onecfg, probes, safekeeping, system
from oneupgrade.transport.ssh import Node

BACKUP_DIR = "/var/lib/one/backups/oneupgrade"
# Long-running commands get generous deadlines; a hang still ends.
PACKAGE_TIMEOUT = 1800.0
ONEDB_TIMEOUT = 3600.0
CONFIG_DIRS = ("/etc/one", "/var/lib/one/remotes/etc")
CONFIG_FILES = (onecfg.CONF,)  # copied beside them where they exist
# Journal fact (opennebula/prefetch.py): the node's repository was switched to the
# target and refreshed, and its packages downloaded, before step 3.
PREFETCHED = "prefetched/{node}"


@dataclass(frozen=True)
class Backup:
    node: str
    path: str
    sha256: str
    taken: float = 0.0  # when `onedb backup` started (controller clock); 0: not recorded


def _stamp() -> str:
    return time.strftime("%Y-%m-%d")


def _exists(node: Node, path: str) -> bool:
    return node.run(f"test -e {shlex.quote(path)}", check=False).exit_status == 0


def backup_configuration(node: Node, journal: Journal) -> list[str]:
    """Step 4: `cp -ra` copies of /etc/one and /var/lib/one/remotes/etc, and of onecfg's
    state (/etc/onecfg.conf) where it exists: a way back needs all three.

    An earlier backup is never overwritten (`cp -ra /etc/one /etc/one.DATE` into an
    existing directory would nest the copy inside it): a taken name gets a suffix.
    """
    key = f"config_backups/{node}"
    done: list[str] | None = journal.fact(key)
    if done and all(_exists(node, path) for path in done):
        return done
    paths = []
    for source in (*CONFIG_DIRS, *(f for f in CONFIG_FILES if _exists(node, f))):
        target = f"{source}.{_stamp()}"
        suffix = 1
        while _exists(node, target):
            suffix += 1
            target = f"{source}.{_stamp()}.{suffix}"
        src, dst = shlex.quote(source), shlex.quote(target)
        node.run(f"test ! -e {dst} && cp -ra {src} {dst}", mutating=True)
        paths.append(target)
    journal.remember(key, paths)
    return paths


def backup_database(node: Node, journal: Journal, purpose: str) -> Backup:
    """`onedb backup` to a new file of its own; its sha256 is recorded in the journal."""
    key = f"db_backup/{purpose}/{node}"
    known = journal.fact(key)
    if known:
        backup = Backup(**known)
        if node.dry_run or _sha256(node, backup.path) == backup.sha256:
            return backup
    name = f"{purpose}-{node}-{time.strftime('%Y%m%d-%H%M%S')}.sql"
    path = f"{BACKUP_DIR}/{name}"
    node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
    taken = time.time()
    node.run(f"onedb backup {shlex.quote(path)}", mutating=True, timeout=ONEDB_TIMEOUT)
    digest = "<sha256 of the backup>" if node.dry_run else (_sha256(node, path) or "")
    backup = Backup(node.name, path, digest, round(taken))
    journal.remember(key, backup.__dict__)  # a dry run's journal is never saved
    return backup


def _sha256(node: Node, path: str) -> str | None:
    result = node.run(f"sha256sum {shlex.quote(path)}", check=False)
    return result.stdout.split()[0] if result.ok and result.stdout else None


def packages_to_upgrade(installed: dict[str, str], plat: system.Platform, target: str) -> list[str]:
    """The target's step 6 package list, limited to what is installed and not at target."""
    spec = releases.series(releases.resolve(target))
    wanted = spec.frontend_packages_deb if plat.family == "deb" else spec.frontend_packages_rpm
    wanted = tuple(dict.fromkeys((*wanted, *spec.migration_packages)))
    return [p for p in wanted if p in installed and not system.at_target(installed[p], target)]


def migrators_to_install(
    node: Node, plat: system.Platform, installed: dict[str, str], target: str
) -> list[str]:
    """The migration package to install with the upgrade, when none is installed.

    `onedb upgrade` without the target's migrators fails with the control plane down
    (6.10 Community Edition ships none), so the target repository, already refreshed,
    must offer one; otherwise this refuses, naming the packages to provide.
    """
    names = releases.series(releases.resolve(target)).migration_packages
    if any(name in installed for name in names):
        return []
    for name in names:
        if node.dry_run or system.repository_offers(node, plat, name):
            return [name]
    raise PreconditionFailed(
        f"{node}: the repository in {plat.repo_file} offers no onedb migrators for {target} "
        f"({' or '.join(names)}), and onedb upgrade needs them: add the repository (or the "
        "package) that provides them, then rerun"
    )


def pinned(packages: list[str], plat: system.Platform, target: str) -> list[str]:
    """An exact target release pins the versions the package manager installs."""
    if target.count(".") == 1:
        return packages
    sep = "=" if plat.family == "deb" else "-"
    suffix = "-1" if plat.family == "deb" else ""
    return [f"{p}{sep}{target}{suffix}" for p in packages]


REPLACED = "database: skipped: replaced by the leader's database in step 6"


def upgrade_frontend(
    node: Node, journal: Journal, target: str, vip: str | None, *, migrate: bool = True
) -> list[str]:
    """Steps 4 to 9 of "Upgrading Single Front-end" on `node`; returns what was done.

    `migrate`: False on a follower, whose database step 6 of the HA guide replaces
    with the leader's upgraded one: `onedb upgrade` and `onedb fsck` there would only
    lengthen the outage (its pre-upgrade dump is still taken)."""
    done: list[str] = []
    plat = system.platform(node)
    installed = system.installed_packages(node, plat.family)
    if "opennebula" not in installed:
        raise PreconditionFailed(f"{node}: package opennebula is not installed")
    if not system.at_target(installed["opennebula"], target):
        # Step 4: back up the configuration and the database before anything changes.
        paths = backup_configuration(node, journal)
        backup = backup_database(node, journal, "pre-upgrade")
        done.append(f"backups {', '.join(paths)}, {backup.path}")
        probes_tar = probes.back_up(node, journal)
        if probes_tar:
            done.append(f"custom probes kept in {probes_tar}: {probes.REMEDY}")
        copies = [
            safekeeping.keep_dump(node, journal, backup.path, backup.sha256),
            safekeeping.keep_configuration(
                node, journal, [*paths, *([probes_tar] if probes_tar else [])]
            ),
        ]
        done += [f"copied to the controller: {c}" for c in copies if c]
        # Step 5: the repository of the target series.
        if system.switch_repository(node, plat, releases.series_of(releases.resolve(target))):
            done.append("repository switched")
            system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
        elif journal.fact(PREFETCHED.format(node=node)) == target:
            done.append("repository refreshed and packages downloaded before the stop")
        else:
            system.refresh_repository(node, plat, PACKAGE_TIMEOUT)
        # Step 6: upgrade, keeping the modified configuration files.
        packages = packages_to_upgrade(installed, plat, target)
        migrators = migrators_to_install(node, plat, installed, target)
        system.upgrade_packages(node, plat, pinned(packages, plat, target), PACKAGE_TIMEOUT)
        done.append(f"upgraded {' '.join(packages)}")
        if not node.dry_run:
            after = system.installed_packages(node, plat.family).get("opennebula")
            if not system.at_target(after, target):
                raise PreconditionFailed(
                    f"{node}: opennebula is {after} after the upgrade, not {target}: "
                    f"does the repository in {plat.repo_file} offer {target}?"
                )
    else:  # a rerun after the upgrade: the migrators may still be missing
        migrators = migrators_to_install(node, plat, installed, target)
    system.install_packages(node, plat, pinned(migrators, plat, target), PACKAGE_TIMEOUT)
    done += [f"installed {name}" for name in migrators]
    done += update_configuration(node, vip)
    if not migrate:
        return [*done, REPLACED]
    done += sunstone_views_back(node, journal, installed["opennebula"], target)
    done += upgrade_database(node, journal)
    put_back = f"sunstone_views_back/{node}"
    if journal.fact(put_back) == "put back":
        # Step 10 (sources before 7.0): "now you can safely delete" it, once the
        # database is upgraded (a failed fsck and --lf included); step 4's copy keeps it.
        node.run(f"rm -f {SUNSTONE_VIEWS}", mutating=True)
        journal.remember(put_back, "deleted")
        done.append(f"{SUNSTONE_VIEWS} deleted again (kept in the step-4 backup)")
    return done


SUNSTONE_VIEWS = "/etc/one/sunstone-views.yaml"


def sunstone_views_back(node: Node, journal: Journal, installed: str, target: str) -> list[str]:
    """Sources before 7.0: `onecfg upgrade` moves labels_groups into FireEdge's
    default-labels.yaml and deletes sunstone-views.yaml, but `onedb upgrade` migrates
    the persistent labels as user labels from that file, so the step-4 copy goes back
    before it (Step 7's and Step 8's notes)."""
    if journal.fact(f"db_upgraded/{node}"):
        return []
    backups: list[str] = journal.fact(f"config_backups/{node}") or []
    etc_copy = next((p for p in backups if p.startswith("/etc/one.")), None)
    if etc_copy is None:
        return []
    saved = shlex.quote(f"{etc_copy}/sunstone-views.yaml")
    if node.dry_run:
        # onecfg upgrade is only planned: the file it deletes crossing into 7.0 is here
        crossing = releases.parse(installed) < (7, 0) <= releases.parse(releases.resolve(target))
        if not crossing or not _exists(node, SUNSTONE_VIEWS):
            return []
    elif _exists(node, SUNSTONE_VIEWS) or not _exists(node, saved.strip("'")):
        return []
    node.run(f"cp -p {saved} {SUNSTONE_VIEWS}", mutating=True)
    journal.remember(f"sunstone_views_back/{node}", "put back")  # a dry run's is not saved
    return [f"{SUNSTONE_VIEWS} put back from {etc_copy} for the labels migration"]


def update_configuration(node: Node, vip: str | None) -> list[str]:
    """Step 7: `onecfg upgrade` where onecfg has it, then MONITOR_ADDRESS = the VIP (HA).

    The order matters: `onecfg upgrade` rewrites /etc/one from the snapshot the package
    upgrade took, so an edit made before it would be lost. A final `onecfg status` must
    be clean ("There should be no errors and no new updates available").
    """
    done = []
    status = onecfg.status(node)
    if status is not None:
        # rc 0: clean; rc 1: updates pending (normal right after the package upgrade,
        # pitfall 22); rc 255 "Unknown config version": the doc's "No action is required"
        # (the upgrade initialises it); any other error needs the operator.
        if status.exit_status == 1 or onecfg.unknown_version(status) or node.dry_run:
            node.run("onecfg upgrade", mutating=True, timeout=ONEDB_TIMEOUT)
            done.append("onecfg upgrade")
        elif status.exit_status != 0:
            raise CommandFailed(status)
    elif not node.dry_run:
        # Community Edition's onecfg before 7.0 migrates nothing: the operator must know,
        # not read an upgrade that "went fine" (the doc: diff against the backup by hand).
        done.append(
            "configuration NOT migrated by onecfg (no onecfg upgrade on this node): compare "
            "/etc/one and /var/lib/one/remotes/etc with their step-4 backups"
        )
    if vip:
        text = node.read_file(config.MONITORD_CONF)
        if config.monitor_address(text) != vip:
            node.write_file(config.MONITORD_CONF, config.with_monitor_address(text, vip))
            done.append(f"MONITOR_ADDRESS = {vip}")
    if status is not None and done and not node.dry_run:
        final = node.run("onecfg status", check=False)
        if final.exit_status != 0:
            raise CommandFailed(final)
    return done


def _own_dump(node: Node, command: str) -> str:
    """A backup file of the command's own: onedb's default name ends at the second, so
    `onedb upgrade` and the `onedb fsck` right after it can name the same file, and
    the second refuses ("File ... exists, backup aborted")."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return shlex.quote(f"{BACKUP_DIR}/onedb-{command}-{node}-{stamp}.sql")


_FSCK_TOTAL = re.compile(r"^Total errors found: (\d+)", re.M)
_FSCK_OWN = (
    "Sqlite database backup",
    "MySQL dump stored",
    "Use 'onedb restore'",
    "mysql -u ",
    "  > ",
)


def fsck_errors(output: str) -> list[str]:
    """The errors `onedb fsck` reported ([] when "Total errors found: 0"): the lines it
    printed between its backup notice and its totals."""
    total = _FSCK_TOTAL.search(output)
    if total is None or int(total.group(1)) == 0:
        return []
    before = output[: total.start()].splitlines()
    found = [ln for ln in before if ln.strip() and not ln.startswith(_FSCK_OWN)]
    return found or [f"Total errors found: {total.group(1)}"]


def upgrade_database(node: Node, journal: Journal) -> list[str]:
    """Steps 8 and 9: `onedb upgrade -v`, then `onedb fsck` on the upgraded schema, each
    with its automatic backup in a file of its own."""
    version = node.run("onedb version", check=False)
    # onedb version: 0 current, 2 upgrade needed (reference §3.4)
    if version.exit_status == 2 or node.dry_run:
        node.run(f"mkdir -p {BACKUP_DIR}", mutating=True)
        dump = _own_dump(node, "upgrade")
        node.run(f"onedb upgrade -v -b {dump}", mutating=True, timeout=ONEDB_TIMEOUT)
        journal.remember(f"db_upgraded/{node}", True)
    elif version.exit_status != 0:
        raise CommandFailed(version)
    # fsck checks the upgraded schema; an untouched database needs no new check.
    if (journal.fact(f"db_upgraded/{node}") or node.dry_run) and not journal.fact(
        f"db_fsck/{node}"
    ):
        dump = _own_dump(node, "fsck")
        result = node.run(f"onedb fsck -b {dump}", mutating=True, timeout=ONEDB_TIMEOUT)
        found = fsck_errors(result.stdout)
        if found:
            # fsck repaired what it could, but an upgrade that left errors is not to be
            # trusted silently; `--lf` runs fsck again once the operator has looked.
            raise PreconditionFailed(
                f"{node}: onedb fsck found {len(found)} error(s) in the upgraded database "
                f"(backup before it: {dump.strip(chr(39))}):\n  " + "\n  ".join(found[:20])
            )
        if not node.dry_run:
            journal.remember(f"db_fsck/{node}", True)
        return ["onedb upgrade -v", "onedb fsck"]
    return []
