"""Fixtures shared by every test package live in shared/testing/plugin.py (loaded via
pyproject); this file only makes the repository root importable."""
