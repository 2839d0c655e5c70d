"""The inventory: which cluster, which nodes, how to reach them, what to upgrade to.

Two formats are read, and both become the same `Inventory`:

- the native format (`inventory/example.yml` documents every key);
- a one-deploy (OpenNebula's Ansible) inventory, as is (`oneupgrade.inventory.onedeploy`).

Loading never opens a connection. It reads one file, checks everything that can be
checked on this machine (names, addresses, ports, the target release, that the key
and known_hosts files exist and the key is private) and fails on the first problem
with ONE line that names the file, the line, the key path, what is wrong and what
to do::

    prod.yml:7: frontends[2].name: duplicate name 'fe1' (also at line 5); give every node a
    unique name

Where each part lives: `document` (the YAML file, positioned errors, `InventoryError`),
`model` (`Inventory`, `Host`, `SshSettings`), `fields` (the value checks both readers
share), `native` and `native_ssh` (the native format), `onedeploy` and
`onedeploy_hosts` (the one-deploy format), `load` (`load_inventory`, which picks the
reader).

Usage::

    from oneupgrade.inventory.load import load_inventory

    inv = load_inventory(Path("inventory/prod.yml"))
    for host in inv.nodes:
        print(host.name, host.address, host.port, host.role)
"""
