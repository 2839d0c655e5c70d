"""The pytest plugin, the only code that imports pytest: options, fixtures, hooks and
the HTML report. Registered as `oneupgrade.plugin.hooks` (the checkout's conftest.py),
which brings fixtures.py with it."""
