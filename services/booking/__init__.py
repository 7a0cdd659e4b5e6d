"""The booking service — supply booking rounds, quotas and pickup codes."""
