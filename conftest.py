pytest_plugins = ["oneupgrade.plugin.hooks"]
