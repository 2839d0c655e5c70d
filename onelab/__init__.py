"""The lab: a simulated OpenNebula cluster of real sshd nodes on this machine."""

from .errors import LabError
from .lab import Lab

__all__ = ["Lab", "LabError"]
