"""`python -m oneupgrade.lab`: the former name of `python -m onelab`."""

from oneupgrade.lab import forward

forward("onelab", "oneupgrade.lab")
