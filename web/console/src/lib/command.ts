// The command centre's arithmetic, kept out of the components so it is tested on its own:
// the period it shows, the live counts from the counts by status, where its map looks and
// where each hotspot sits on it.
import { TILE, worldPixel } from '@/lib/tiles'

/** Statuses after which a case needs nobody any more (rejected, closed, rated). */
const DONE = new Set(['rejected', 'closed', 'rated'])

/** The last `days` Beijing calendar days up to `today` ("2026-12-06"), as the feedback API's range. */
export function recentRange(today: string, days: number): { from: string; to: string } {
  const d = new Date(`${today}T12:00:00Z`)
  d.setUTCDate(d.getUTCDate() - (days - 1))
  return { from: d.toISOString().slice(0, 10), to: today }
}

/** The Beijing calendar day of an instant. */
export function shanghaiToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10)
}

export interface LiveCounts {
  total: number
  open: number
  done: number
}

export function liveCounts(byStatus: Record<string, number>): LiveCounts {
  let total = 0
  let done = 0
  for (const [status, n] of Object.entries(byStatus)) {
    total += n
    if (DONE.has(status)) done += n
  }
  return { total, open: total - done, done }
}

/** The largest `limit` entries, the rest summed under `otherKey`. */
export function topEntries(counts: Record<string, number>, limit: number, otherKey = 'other'): [string, number][] {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  if (sorted.length <= limit) return sorted
  const rest = sorted.slice(limit - 1).reduce((sum, [, n]) => sum + n, 0)
  return [...sorted.slice(0, limit - 1), [otherKey, rest]]
}

export interface Located {
  lat: number
  lng: number
}

export interface MapView {
  zoom: number
  /** World pixel (at `zoom`) of the view's top left corner. */
  origin: { x: number; y: number }
  width: number
  height: number
}

/** The deepest zoom (at most `maxZoom`) at which every point fits in the view with a margin;
 * centred on them. With no points, the view centres on `fallback`. */
export function fitView(points: Located[], width: number, height: number, fallback: Located,
  maxZoom = 16, margin = 40): MapView {
  const spots = points.length ? points : [fallback]
  let zoom = maxZoom
  for (; zoom > 3; zoom--) {
    const px = spots.map((p) => worldPixel(p.lat, p.lng, zoom))
    const w = Math.max(...px.map((p) => p.x)) - Math.min(...px.map((p) => p.x))
    const h = Math.max(...px.map((p) => p.y)) - Math.min(...px.map((p) => p.y))
    if (w <= width - 2 * margin && h <= height - 2 * margin) break
  }
  const px = spots.map((p) => worldPixel(p.lat, p.lng, zoom))
  const cx = (Math.max(...px.map((p) => p.x)) + Math.min(...px.map((p) => p.x))) / 2
  const cy = (Math.max(...px.map((p) => p.y)) + Math.min(...px.map((p) => p.y))) / 2
  return { zoom, origin: { x: cx - width / 2, y: cy - height / 2 }, width, height }
}

/** A point's position in the view, in pixels from its top left. */
export function inView(view: MapView, p: Located): [number, number] {
  const w = worldPixel(p.lat, p.lng, view.zoom)
  return [w.x - view.origin.x, w.y - view.origin.y]
}

/** The tiles under the view, each with its place in it. */
export function viewTiles(view: MapView): { x: number; y: number; left: number; top: number }[] {
  const tiles: { x: number; y: number; left: number; top: number }[] = []
  const { origin, width, height } = view
  for (let x = Math.floor(origin.x / TILE); x * TILE < origin.x + width; x++) {
    for (let y = Math.floor(origin.y / TILE); y * TILE < origin.y + height; y++) {
      tiles.push({ x, y, left: x * TILE - origin.x, top: y * TILE - origin.y })
    }
  }
  return tiles
}

export interface HotspotLike {
  region_code: string
  category_code: string
  report_count: number
}

export interface PointLike extends Located {
  category_code: string
  region_code?: string
}

/** Where a hotspot (a community × category, no coordinates of its own) is drawn: the centre
 * of the mapped cases of its category in its community, else of its category anywhere in view.
 * Null when no mapped case can place it. */
export function hotspotCentre(hotspot: HotspotLike, points: PointLike[]): Located | null {
  const same = points.filter((p) => p.category_code === hotspot.category_code)
  const local = same.filter((p) => p.region_code?.startsWith(hotspot.region_code))
  const pick = local.length ? local : same
  if (!pick.length) return null
  return {
    lat: pick.reduce((s, p) => s + p.lat, 0) / pick.length,
    lng: pick.reduce((s, p) => s + p.lng, 0) / pick.length,
  }
}
