"""Create and edit forms: widgets per field type, validation, conflicts."""
