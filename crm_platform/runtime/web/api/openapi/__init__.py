"""The OpenAPI 3 document of the running blueprint, built per role."""
