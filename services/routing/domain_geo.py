"""Plane and sphere geometry of grid duty, pure: where a check-in lies against its grid's area,
how long a patrol track is, and which cells of a grid patrols covered.

Points are ``(lat, lng)`` in degrees (WGS-84 as the device reports them). A grid is a few
hundred metres across, so distances to its edges are measured on a local flat projection
around the point (metres east and north), accurate to well under a metre at that size; track
lengths sum great-circle (haversine) distances between consecutive points."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0
# A coverage map of more cells than this is drawn with larger cells instead (a county-sized
# polygon typed by mistake must not make a million-cell answer).
MAX_AREA_CELLS = 20_000

LatLng = tuple[float, float]


def haversine_m(a: LatLng, b: LatLng) -> float:
    """Great-circle distance in metres."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def track_length_m(points: Iterable[LatLng]) -> float:
    """The length of a track through ``points`` in their order."""
    total, previous = 0.0, None
    for point in points:
        if previous is not None:
            total += haversine_m(previous, point)
        previous = point
    return total


def _local_xy(origin: LatLng, point: LatLng) -> tuple[float, float]:
    """``point`` in metres east and north of ``origin`` (equirectangular, local)."""
    x = (point[1] - origin[1]) * METRES_PER_DEGREE_LAT * math.cos(math.radians(origin[0]))
    y = (point[0] - origin[0]) * METRES_PER_DEGREE_LAT
    return x, y


def contains(polygon: Sequence[LatLng], point: LatLng) -> bool:
    """Whether ``point`` lies inside the polygon (even-odd ray casting; the polygon is closed
    implicitly, its last vertex joined to its first)."""
    lat, lng = point
    inside = False
    j = len(polygon) - 1
    for i, (lat_i, lng_i) in enumerate(polygon):
        lat_j, lng_j = polygon[j]
        if (lat_i > lat) != (lat_j > lat):
            crossing = lng_i + (lat - lat_i) * (lng_j - lng_i) / (lat_j - lat_i)
            if lng < crossing:
                inside = not inside
        j = i
    return inside


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float
                      ) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def distance_to_polygon_m(polygon: Sequence[LatLng], point: LatLng) -> float:
    """0 inside the polygon; outside, the distance in metres to its nearest edge."""
    if contains(polygon, point):
        return 0.0
    corners = [_local_xy(point, vertex) for vertex in polygon]
    return min(
        _segment_distance(0.0, 0.0, *corners[i - 1], *corners[i]) for i in range(len(corners))
    )


def centre(polygon: Sequence[LatLng]) -> LatLng:
    """The centre of the polygon's bounding box (where a map opens on the grid)."""
    lats = [p[0] for p in polygon]
    lngs = [p[1] for p in polygon]
    return (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2


def is_simple_area(polygon: Sequence[LatLng]) -> bool:
    """At least three distinct vertices that are not all on one line (an area, not a line)."""
    distinct = list(dict.fromkeys(polygon))
    if len(distinct) < 3:
        return False
    origin = distinct[0]
    corners = [_local_xy(origin, p) for p in distinct]
    doubled_area = sum(corners[i - 1][0] * corners[i][1] - corners[i][0] * corners[i - 1][1]
                       for i in range(len(corners)))
    return abs(doubled_area) > 1.0  # more than half a square metre


class CellGrid:
    """Square cells of ``cell_m`` metres, aligned on whole multiples of the cell's size in
    degrees at ``reference_lat`` (so every query on a grid draws the same cells)."""

    def __init__(self, cell_m: float, reference_lat: float) -> None:
        self.cell_m = cell_m
        self.dlat = cell_m / METRES_PER_DEGREE_LAT
        self.dlng = cell_m / (METRES_PER_DEGREE_LAT * max(0.01, math.cos(math.radians(
            reference_lat))))

    def index(self, point: LatLng) -> tuple[int, int]:
        return math.floor(point[0] / self.dlat), math.floor(point[1] / self.dlng)

    def cell_centre(self, i: int, j: int) -> LatLng:
        return (i + 0.5) * self.dlat, (j + 0.5) * self.dlng

    def area_cells(self, polygon: Sequence[LatLng]) -> set[tuple[int, int]]:
        """The cells whose centre lies inside the polygon."""
        lo_i, lo_j = self.index((min(p[0] for p in polygon), min(p[1] for p in polygon)))
        hi_i, hi_j = self.index((max(p[0] for p in polygon), max(p[1] for p in polygon)))
        return {(i, j) for i in range(lo_i, hi_i + 1) for j in range(lo_j, hi_j + 1)
                if contains(polygon, self.cell_centre(i, j))}


def cell_size_for(polygon: Sequence[LatLng] | None, cell_m: float) -> float:
    """``cell_m``, doubled until the polygon's bounding box holds at most MAX_AREA_CELLS."""
    if not polygon:
        return cell_m
    south, west = min(p[0] for p in polygon), min(p[1] for p in polygon)
    north, east = max(p[0] for p in polygon), max(p[1] for p in polygon)
    height = (north - south) * METRES_PER_DEGREE_LAT
    width = (east - west) * METRES_PER_DEGREE_LAT * math.cos(math.radians((north + south) / 2))
    size = cell_m
    while (height / size + 1) * (width / size + 1) > MAX_AREA_CELLS:
        size *= 2
    return size


def covered_ratio(area: set[tuple[int, int]], visited: Iterable[tuple[int, int]]
                  ) -> float | None:
    """The share of the area's cells some patrol passed through (None: no area cells)."""
    if not area:
        return None
    return len(area.intersection(visited)) / len(area)
