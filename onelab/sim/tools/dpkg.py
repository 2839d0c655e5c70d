"""dpkg: -l, --audit and --configure -a (a half-configured upgrade), -s/-W via dpkg-query."""

from __future__ import annotations

from .. import catalogue, nodestate, packages
from .apt import REFUSE_CONFFILE
from .common import Fail, err, out
from .dpkgquery import listing
from .dpkgquery import run as query


def _configure(argv: list[str]) -> int:
    keep = "--force-confold" in argv or "--force-confdef" in argv
    installed = nodestate.installed()
    pending = [n for n, i in sorted(installed.items()) if i.get("status") == "iF"]
    done: list[str] = []
    half: list[str] = []
    for name in pending:
        out(f"Setting up {name} ({catalogue.deb_version(installed[name]['version'])}) ...")
        if name == "opennebula" and not keep and packages.conffile_modified(packages.ONED_CONF):
            out(REFUSE_CONFFILE, end="")
            err("dpkg: error processing package opennebula (--configure):")
            err(" end of file on stdin at conffile prompt")
            half.append(name)
        else:
            done.append(name)
    if done:
        packages.commit([], download_only=False, half_configured=[], configured=done)
    if half:
        out("Errors were encountered while processing:")
        for name in half:
            out(f" {name}")
        return 1
    return 0


def _audit() -> int:
    """As dpkg says of packages an interrupted transaction left half-configured."""
    installed = nodestate.installed()
    pending = [n for n, i in sorted(installed.items()) if i.get("status") == "iF"]
    if pending:
        out("The following packages are only half configured, probably due to problems")
        out("configuring them the first time.  The configuration should be retried using")
        out("dpkg --configure <package> or the configure menu option in dselect:")
        for name in pending:
            out(f" {name:<24} {installed[name].get('summary', 'OpenNebula')}")
    return 0


def run(tool: str, argv: list[str]) -> int:
    if "-C" in argv or "--audit" in argv:
        return _audit()
    if "-l" in argv or "--list" in argv:
        return listing([a for a in argv if not a.startswith("-")])
    if "--configure" in argv:
        return _configure(argv)
    if any(a in argv for a in ("-s", "--status", "-W", "--show")):
        return query("dpkg-query", argv)
    if "-i" in argv or "--install" in argv:
        raise Fail("dpkg: error: installing local .deb files is not simulated", 2)
    raise Fail("dpkg: error: need an action option\n\nType dpkg --help for help.", 2)
