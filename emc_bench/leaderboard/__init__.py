"""The emc-bench leaderboard: the results table, the static site built from it, and its Space."""
