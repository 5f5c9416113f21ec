"""The REST API under /api/v1: records, work items, fields and the OpenAPI document."""
