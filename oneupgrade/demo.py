"""`python -m oneupgrade.demo`: the former name of `python -m onelab.demo`."""

from oneupgrade.lab import forward

if __name__ == "__main__":
    forward("onelab.demo", "oneupgrade.demo")
