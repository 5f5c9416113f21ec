"""People: users, teams, the org chart and the hand-over of a leaver's work."""
