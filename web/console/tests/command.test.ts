import { describe, expect, it } from 'vitest'
import { fitView, hotspotCentre, inView, liveCounts, recentRange, shanghaiToday, topEntries, viewTiles } from '@/lib/command'

describe('the command centre', () => {
  it('shows the last 30 Beijing days up to today', () => {
    expect(recentRange('2026-12-06', 30)).toEqual({ from: '2026-11-07', to: '2026-12-06' })
    expect(recentRange('2026-03-01', 2)).toEqual({ from: '2026-02-28', to: '2026-03-01' })
  })
  it('knows the Beijing day after 16:00 UTC is the next one', () => {
    expect(shanghaiToday(new Date('2026-12-06T15:59:00Z'))).toBe('2026-12-06')
    expect(shanghaiToday(new Date('2026-12-06T16:00:00Z'))).toBe('2026-12-07')
  })
  it('counts rejected, closed and rated cases as done, the rest as open', () => {
    expect(liveCounts({ dispatched: 3, in_progress: 2, closed: 4, rated: 1, rejected: 1 }))
      .toEqual({ total: 11, open: 5, done: 6 })
    expect(liveCounts({})).toEqual({ total: 0, open: 0, done: 0 })
  })
  it('keeps the largest categories and sums the rest as other', () => {
    expect(topEntries({ a: 5, b: 1, c: 3, d: 2 }, 3)).toEqual([['a', 5], ['c', 3], ['other', 3]])
    expect(topEntries({ a: 1, b: 2 }, 3)).toEqual([['b', 2], ['a', 1]])
  })
  it('fits every point in the view with a margin, at the deepest zoom that does', () => {
    const points = [{ lat: 24.10, lng: 117.60 }, { lat: 24.13, lng: 117.64 }]
    const view = fitView(points, 900, 700, { lat: 0, lng: 0 })
    for (const p of points) {
      const [x, y] = inView(view, p)
      expect(x).toBeGreaterThanOrEqual(40)
      expect(x).toBeLessThanOrEqual(860)
      expect(y).toBeGreaterThanOrEqual(40)
      expect(y).toBeLessThanOrEqual(660)
    }
    const deeper = { ...view, zoom: view.zoom + 1 }
    const tooWide = fitView(points, 900, 700, { lat: 0, lng: 0 }, view.zoom + 1)
    expect(tooWide.zoom).toBe(view.zoom)
    expect(deeper.zoom).toBeGreaterThan(view.zoom)
  })
  it('centres an empty map on the fallback and covers it with tiles', () => {
    const view = fitView([], 512, 512, { lat: 24.513, lng: 117.647 })
    expect(inView(view, { lat: 24.513, lng: 117.647 })).toEqual([256, 256])
    const tiles = viewTiles(view)
    expect(tiles.length).toBeGreaterThanOrEqual(4)
    for (const tile of tiles) {
      expect(tile.left).toBeLessThan(512)
      expect(tile.left + 256).toBeGreaterThan(0)
    }
  })
  it('places a hotspot at its community cases of its category, else at its category', () => {
    const points = [
      { lat: 24, lng: 117, category_code: 'noise', region_code: '350623100001001' },
      { lat: 26, lng: 119, category_code: 'noise', region_code: '350623100001002' },
      { lat: 30, lng: 120, category_code: 'noise', region_code: '350623101001001' },
      { lat: 10, lng: 10, category_code: 'road', region_code: '350623100001001' },
    ]
    expect(hotspotCentre({ region_code: '350623100001', category_code: 'noise', report_count: 5 }, points))
      .toEqual({ lat: 25, lng: 118 })
    expect(hotspotCentre({ region_code: '350623102001', category_code: 'road', report_count: 5 }, points))
      .toEqual({ lat: 10, lng: 10 })
    expect(hotspotCentre({ region_code: '350623100001', category_code: 'fire', report_count: 5 }, points))
      .toBeNull()
  })
})
