"""Benchmarks that back claims made in the docs with numbers measured here.

Each module runs with ``python -m bench.<name>``, prints a readable table and
ends with one machine-readable ``RESULT <name> key=value ...`` line (see
``bench.common.result_line``), so a CI job or a person can compare runs.
"""
