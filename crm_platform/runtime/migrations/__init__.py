"""Migrations: compare the blueprint with the live database, plan the change, then apply it."""
