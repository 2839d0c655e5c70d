"""The simulated command-line tools, one module each."""
