"""Helpers and planted student implementations for the exercise tests (tests/test_exercises_*.py)."""
