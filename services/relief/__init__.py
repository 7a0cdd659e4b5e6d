"""The relief service — one-click hardship applications and joint review."""
