"""Suitescope ingest: turn report bytes into normalised records and store them.

Parse (``ingest.detect``, ``ingest.junit``, ``ingest.coverage``) → normalise
(``ingest.records``) → store (``ingest.store``). Nothing here imports Flask.
"""
