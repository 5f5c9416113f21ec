"""Authentication: the backend, credentials, sign-in, sessions, API tokens and rate limits."""
