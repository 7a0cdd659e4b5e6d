import { describe, expect, it } from 'vitest'
import { fitView } from '@/lib/command'
import {
  cellOpacity, dueAt, figureKeys, formatDistance, formatFigure, formatPolygon, fromView, gridCodes,
  gridsUnder, isOverdue, metresToPixels, parsePolygon, requestFor, taskState, weekFrom, weightsOf,
  weightsProblem,
} from '@/lib/gridwork'
import { homeFor, menuFor } from '@/lib/menu'

const NOW = Date.parse('2026-12-06T10:00:00Z')

describe('grid tasks', () => {
  it('marks an open task past its deadline as overdue, never a done one', () => {
    expect(isOverdue({ status: 'open', due_at: '2026-12-06T09:59:00Z' }, NOW)).toBe(true)
    expect(isOverdue({ status: 'open', due_at: '2026-12-06T10:01:00Z' }, NOW)).toBe(false)
    expect(isOverdue({ status: 'done', due_at: '2026-12-01T00:00:00Z' }, NOW)).toBe(false)
  })
  it('tells a task done late from one done on time', () => {
    expect(taskState({ status: 'done', due_at: '2026-12-01T00:00:00Z', on_time: false }, NOW)).toBe('doneLate')
    expect(taskState({ status: 'done', due_at: '2026-12-01T00:00:00Z', on_time: true }, NOW)).toBe('done')
    expect(taskState({ status: 'cancelled', due_at: '2026-12-01T00:00:00Z' }, NOW)).toBe('cancelled')
    expect(taskState({ status: 'open', due_at: '2026-12-01T00:00:00Z' }, NOW)).toBe('overdue')
  })
  it('reads a deadline day and time in Beijing time', () => {
    expect(dueAt('2026-12-11', '18:00')).toBe('2026-12-11T10:00:00.000Z')
  })
})

describe('calls to the grid-work endpoints', () => {
  it('leaves empty filters out of the query', () => {
    const request = requestFor('GET', '/api/v1/routing/grid-workers',
      { query: { grid_code: '', status: 'active', cursor: null, limit: 50 } }, 'http://console.test')
    expect(request.url).toBe('http://console.test/api/v1/routing/grid-workers?status=active&limit=50')
    expect(request.headers.get('Idempotency-Key')).toBeNull()
  })
  it('sends a retry-safe write as JSON with a fresh Idempotency-Key each time', async () => {
    const options = { body: { title: 'x' }, idempotent: true }
    const first = requestFor('POST', '/api/v1/routing/grid-tasks', options, 'http://console.test')
    const second = requestFor('POST', '/api/v1/routing/grid-tasks', options, 'http://console.test')
    expect(first.headers.get('Content-Type')).toBe('application/json')
    expect(first.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f-]{36}$/)
    expect(second.headers.get('Idempotency-Key')).not.toBe(first.headers.get('Idempotency-Key'))
    expect(await first.json()).toEqual({ title: 'x' })
  })
})

describe('grid areas typed as text', () => {
  it('reads one corner a line, commas or spaces, and writes it back the same way', () => {
    const parsed = parsePolygon('24.51,117.64\n24.52 117.65\n24.515，117.66\n')
    expect(parsed).toEqual({ polygon: [[24.51, 117.64], [24.52, 117.65], [24.515, 117.66]] })
    if ('polygon' in parsed) expect(formatPolygon(parsed.polygon)).toBe('24.51,117.64\n24.52,117.65\n24.515,117.66')
  })
  it('refuses fewer than three corners and names a line it cannot read', () => {
    expect(parsePolygon('24.51,117.64\n24.52,117.65')).toHaveProperty('problem')
    const bad = parsePolygon('24.51,117.64\nnorth,117.65\n24.5,117.6')
    expect('problem' in bad && bad.problem).toContain('north,117.65')
    expect(parsePolygon('95,117\n24,117\n24,118')).toHaveProperty('problem')
  })
})

describe('grid codes', () => {
  it('keeps 15-digit codes once each and names the others', () => {
    expect(gridCodes([' 350623100001001', '350623100001001', '3506231'])).toEqual(
      { codes: ['350623100001001'], bad: ['3506231'] })
  })
  it('walks a region down to its grids, named by path', async () => {
    const tree: Record<string, { code: string; name: string }[]> = {
      '350623100': [{ code: '350623100001', name: 'A' }],
      '350623100001': [{ code: '350623100001001', name: 'G1' }, { code: '350623100001002', name: 'G2' }],
    }
    const grids = await gridsUnder('350623100', async (p) => tree[p] ?? [])
    expect(grids).toEqual([{ code: '350623100001001', name: 'A / G1' }, { code: '350623100001002', name: 'A / G2' }])
  })
})

describe('maps', () => {
  it('finds the clicked place again where a point was drawn', () => {
    const view = fitView([{ lat: 24.51, lng: 117.64 }, { lat: 24.52, lng: 117.66 }], 520, 340,
      { lat: 0, lng: 0 }, 18)
    const centre = fromView(view, 260, 170)
    expect(centre.lat).toBeCloseTo(24.515, 3)
    expect(centre.lng).toBeCloseTo(117.65, 3)
  })
  it('draws a 50 m cell larger as the map zooms in', () => {
    expect(metresToPixels(50, 24.5, 17)).toBeGreaterThan(metresToPixels(50, 24.5, 16) * 1.9)
  })
  it('shades cells by visits within bounds', () => {
    expect(cellOpacity(0, 10)).toBe(0.15)
    expect(cellOpacity(10, 10)).toBeCloseTo(0.85)
    expect(cellOpacity(5, 0)).toBe(0.15)
  })
})

describe('scorecards of grid workers', () => {
  it('shows figures as staff read them', () => {
    expect(formatFigure('patrol_distance_m', 12345)).toBe('12.3 km')
    expect(formatFigure('on_time_rate', 0.5)).toBe('50.0%')
    expect(formatFigure('patrol_hours', 2.25)).toBe('2.3')
    expect(formatFigure('visits', 7)).toBe('7')
    expect(formatFigure('visits', null)).toBe('—')
    expect(formatDistance(850)).toBe('850 m')
  })
  it('lists the weighted figures first, then any other, once each', () => {
    expect(figureKeys({ weights: { visits: 2 }, workers: [{ figures: { reports: 1, visits: 3 }, score: 1 }],
      grids: [{ figures: { tasks_done: 1 }, score: 1 }] })).toEqual(['visits', 'reports', 'tasks_done'])
  })
  it('accepts weights between 0 and 1000 only', () => {
    expect(weightsProblem({ visits: 10, reports: 0, patrol_km: 1000 })).toBeNull()
    expect(weightsProblem({ visits: -1 })).toBe('visits')
    expect(weightsProblem({ visits: 1001 })).toBe('visits')
    expect(weightsProblem({ visits: Number.NaN })).toBe('visits')
  })
  it('reads weights with or without an envelope', () => {
    expect(weightsOf({ weights: { visits: 2 }, updated_at: 'x' })).toEqual({ visits: 2 })
    expect(weightsOf({ visits: 2, note: 'x' })).toEqual({ visits: 2 })
  })
  it('lists a week of roster days across a month end', () => {
    expect(weekFrom('2026-12-29')).toEqual(['2026-12-29', '2026-12-30', '2026-12-31', '2027-01-01',
      '2027-01-02', '2027-01-03', '2027-01-04'])
  })
})

describe('menu for grid work', () => {
  it('gives managers the grid-worker pages and a grid worker their own figures', () => {
    expect(menuFor(['dispatcher']).map((m) => m.key)).toContain('gridwork')
    expect(menuFor(['grid_worker']).map((m) => m.key)).toEqual(['verification', 'myFigures'])
    expect(homeFor(['grid_worker'])).toBe('/verification')
  })
})
