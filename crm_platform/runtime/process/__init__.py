"""Process: stages, follow-ups, the timeline and saved views, the mechanisms every blueprint uses."""
