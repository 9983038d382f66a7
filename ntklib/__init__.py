"""ntklib."""
