"""Rubrics as data: one TOML file per assignment (a5: one per option), read by grader.rubric."""
