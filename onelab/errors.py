"""The one exception type of the lab infrastructure."""


class LabError(Exception):
    """A lab operation failed; the message is one line meant for the operator."""
