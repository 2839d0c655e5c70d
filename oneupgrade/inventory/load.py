"""Load an inventory file, whichever of the two formats it is written in."""

from __future__ import annotations

from pathlib import Path

from oneupgrade.inventory import native, onedeploy
from oneupgrade.inventory.document import read_yaml
from oneupgrade.inventory.model import Inventory


def load_inventory(path: Path, *, target_override: str | None = None) -> Inventory:
    """Read and check an inventory (native or one-deploy); raise `InventoryError`."""
    path = Path(path)
    doc, data = read_yaml(path)
    if onedeploy.is_onedeploy(data):
        return onedeploy.build(doc, data, target_override=target_override)
    return native.build(doc, data, target_override=target_override)
