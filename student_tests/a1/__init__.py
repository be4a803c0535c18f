"""Checks for assignment 1 (chapter 2, tokenization and data loading)."""
