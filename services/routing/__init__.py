"""The routing service — organisation, rules, deadlines, assignments, supervision."""
