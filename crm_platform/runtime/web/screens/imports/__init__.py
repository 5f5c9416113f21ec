"""The import screens (``/import``): upload, map the columns, dry run, run, history."""
