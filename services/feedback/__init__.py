"""The feedback service — notifications, ratings, rework, scorecards."""
