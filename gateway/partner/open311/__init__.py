"""Open311 GeoReport v2 at /open311/v2/: the platform's categories as services, its
non-sensitive cases as requests, and requests posted by partner apps into the closed loop."""
