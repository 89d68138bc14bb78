"""Redis access: the leaderboard structure, rate limits, the event stream, the job queue."""
