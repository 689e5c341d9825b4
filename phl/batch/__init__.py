"""Batch jobs of the workflow: many reactions or structures per process (``phl reaction batch``,
``phl label batch``), static blocks so that a 12,000-reaction run is planned without reading any
intermediate result."""
