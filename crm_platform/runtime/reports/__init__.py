"""Reports: set-based pipeline reports (funnel, win rate, leaderboard) in the reader's scope."""
