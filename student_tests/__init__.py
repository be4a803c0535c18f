"""Check suites run on student submissions, one folder per assignment (a1..a5)."""
