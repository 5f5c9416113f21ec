"""End-to-end tests: a real browser (headless Chromium through Playwright) against a real uvicorn server."""
