"""Bundled data files (market history); see README.md in this directory."""
