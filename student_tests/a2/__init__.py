"""Checks for assignment 2 (chapter 3, attention mechanisms)."""
