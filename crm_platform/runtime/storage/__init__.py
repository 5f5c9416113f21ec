"""Storage: engines, the type map and the SQLAlchemy Core tables built from the metadata."""
