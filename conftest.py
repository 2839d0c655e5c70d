pytest_plugins = ["oneupgrade.plugin"]
