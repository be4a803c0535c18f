"""Checks for assignment 5, option "instruction" (chapter 7, instruction fine-tuning)."""
