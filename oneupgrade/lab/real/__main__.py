"""`python -m oneupgrade.lab.real`: the former name of `python -m onelab.real`."""

from oneupgrade.lab import forward

forward("onelab.real", "oneupgrade.lab.real")
