"""`python -m oneupgrade.lab.real`: the former name of `python -m onelab.real`."""
