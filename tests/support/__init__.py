"""Test support shared by several test packages (real components started by the tests)."""
