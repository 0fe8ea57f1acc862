"""Qashyq media."""
