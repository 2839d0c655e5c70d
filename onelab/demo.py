"""`make demo`: upgrade a simulated 3-front-end cluster end to end and print the report
(`--opennebula real`, `make demo-real`: the real tier's OpenNebula built from source).

Starts a lab (3 front-ends, 2 hypervisors, OpenNebula 6.10 on Debian 12), runs the
real runbook against it exactly as an operator would (`pytest runbook/ --inventory
<lab>/inventory.yml`), tears the lab down and exits with the runbook's status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from onelab import Lab
from onelab.invoke import ROOT, runbook_argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onelab.demo")
    parser.add_argument("--frontends", type=int, default=3)
    parser.add_argument("--hypervisors", type=int, default=2)
    parser.add_argument("--version", default="6.10")
    parser.add_argument("--os", default="debian12")
    parser.add_argument("--report-dir", default=str(ROOT / "reports"))
    parser.add_argument("--opennebula", choices=("sim", "real"), default="sim")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oneupgrade-demo-") as tmp:
        lab_dir = Path(tmp) / "lab"
        print(
            f"starting a lab: {args.frontends} front-ends, {args.hypervisors} hypervisors, "
            f"OpenNebula {args.version} on {args.os} ({args.opennebula})",
            flush=True,
        )
        with Lab.up(
            lab_dir,
            frontends=args.frontends,
            hypervisors=args.hypervisors,
            version=args.version,
            os=args.os,
            opennebula=args.opennebula,
        ) as lab:
            command = runbook_argv(
                lab.inventory_path, "--report-dir", args.report_dir, "-v", "-p", "no:cacheprovider"
            )
            print("$ " + " ".join(command), flush=True)
            status = subprocess.call(command, cwd=ROOT)
            reports = sorted(
                Path(args.report_dir).glob("*/*.html"), key=lambda p: p.stat().st_mtime
            )
    print(f"demo finished in {time.monotonic() - started:.1f} s with exit status {status}")
    if reports:
        print(f"report: {reports[-1]}")
    return status


if __name__ == "__main__":
    sys.exit(main())
