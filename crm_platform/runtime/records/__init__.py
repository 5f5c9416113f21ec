"""Records: the one door to data (validation, permissions, queries, history, aggregates, roll-ups)."""
