"""The dashboard: KPI tiles, the funnel and the leaderboard in the reader's scope."""
