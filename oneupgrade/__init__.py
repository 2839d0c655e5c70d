"""oneupgrade: OpenNebula's "Upgrading High Availability Clusters" as an executable runbook."""

__version__ = "0.1.0"
