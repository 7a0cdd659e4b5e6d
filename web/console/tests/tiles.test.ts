import { describe, expect, it } from 'vitest'
import { tileUrl, tileView, worldPixel } from '@/lib/tiles'

describe('map tiles around a case', () => {
  it('puts 0,0 at the centre of the world', () => {
    expect(worldPixel(0, 0, 0)).toEqual({ x: 128, y: 128 })
  })
  it('finds the tile of a point in Zhangzhou at zoom 16', () => {
    const p = worldPixel(24.5130, 117.6470, 16)
    expect([Math.floor(p.x / 256), Math.floor(p.y / 256)]).toEqual([54184, 28162]) // the OSM formula, computed independently
  })
  it('covers the whole view with tiles and centres the point', () => {
    const view = tileView(24.513, 117.647, 16, 320, 180)
    expect(view.pin).toEqual({ left: 160, top: 90 })
    expect(view.tiles.length).toBeGreaterThanOrEqual(2)
    for (const t of view.tiles) {
      expect(t.left).toBeLessThan(320)
      expect(t.left + 256).toBeGreaterThan(0)
      expect(t.top).toBeLessThan(180)
      expect(t.top + 256).toBeGreaterThan(0)
    }
  })
  it('fills a URL template', () => {
    expect(tileUrl('https://t.example/{z}/{x}/{y}.png', 1, 2, 3)).toBe('https://t.example/3/1/2.png')
  })
})
