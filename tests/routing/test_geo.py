"""Grid duty's geometry: inside or how far outside a grid, track lengths, coverage cells."""

from __future__ import annotations

import pytest

from services.routing import domain_geo as geo

SQUARE = [(24.499, 117.499), (24.499, 117.501), (24.501, 117.501), (24.501, 117.499)]


def test_a_point_inside_the_grid_is_at_no_distance() -> None:
    assert geo.contains(SQUARE, (24.5, 117.5))
    assert geo.distance_to_polygon_m(SQUARE, (24.5, 117.5)) == 0.0


def test_a_point_outside_is_measured_to_the_nearest_edge() -> None:
    north = geo.distance_to_polygon_m(SQUARE, (24.502, 117.5))  # 0.001 deg north of the edge
    corner = geo.distance_to_polygon_m(SQUARE, (24.502, 117.502))
    assert not geo.contains(SQUARE, (24.502, 117.5))
    assert north == pytest.approx(111.2, abs=0.5)
    assert corner == pytest.approx((111.2**2 + 101.2**2) ** 0.5, abs=1.0)


def test_a_concave_grid_leaves_its_notch_outside() -> None:
    ell = [(0.0, 0.0), (0.0, 0.002), (0.001, 0.002), (0.001, 0.001), (0.002, 0.001),
           (0.002, 0.0)]
    assert geo.contains(ell, (0.0015, 0.0005))
    assert not geo.contains(ell, (0.0015, 0.0015))
    assert geo.distance_to_polygon_m(ell, (0.0015, 0.0015)) == pytest.approx(55.6, abs=0.5)


def test_track_length_sums_great_circle_steps() -> None:
    assert geo.haversine_m((24.5, 117.5), (24.5, 117.5)) == 0.0
    assert geo.haversine_m((0.0, 0.0), (1.0, 0.0)) == pytest.approx(111_195, rel=1e-4)
    walk = [(24.5, 117.5), (24.501, 117.5), (24.501, 117.501)]
    assert geo.track_length_m(walk) == pytest.approx(111.2 + 101.2, abs=1.0)
    assert geo.track_length_m([]) == 0.0
    assert geo.track_length_m(walk[:1]) == 0.0


def test_a_line_or_repeated_point_is_not_an_area() -> None:
    assert geo.is_simple_area(SQUARE)
    assert not geo.is_simple_area([(24.5, 117.5), (24.501, 117.501), (24.502, 117.502)])
    assert not geo.is_simple_area([(24.5, 117.5)] * 3 + [(24.501, 117.5)])


def test_coverage_counts_the_share_of_area_cells_visited() -> None:
    cells = geo.CellGrid(50, 24.5)
    area = cells.area_cells(SQUARE)
    assert 12 <= len(area) <= 25  # ~222 m x ~202 m in 50 m cells
    visited = {cells.index((24.5, 117.5)), cells.index((30.0, 120.0))}
    assert geo.covered_ratio(area, visited) == pytest.approx(1 / len(area))
    assert geo.covered_ratio(set(), visited) is None
    i, j = cells.index((24.5, 117.5))
    lat, lng = cells.cell_centre(i, j)
    assert abs(lat - 24.5) < cells.dlat
    assert abs(lng - 117.5) < cells.dlng


def test_a_huge_area_is_drawn_with_larger_cells() -> None:
    county = [(24.0, 117.0), (24.0, 118.0), (25.0, 118.0), (25.0, 117.0)]
    size = geo.cell_size_for(county, 50)
    assert size > 50
    assert geo.cell_size_for(SQUARE, 50) == 50
    assert geo.cell_size_for(None, 50) == 50
