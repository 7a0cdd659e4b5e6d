// What the command centre shows of a region, read in one round of parallel requests.
import { api, ok } from '@/api/client'
import type { components } from '@/api/schema'
import { recentRange, shanghaiToday } from '@/lib/command'

type Schemas = components['schemas']

export interface CommandSnapshot {
  counts: Schemas['CountsRead']
  trend: Schemas['TrendDay'][]
  overdue: Schemas['OverdueRead'][]
  hotspots: Schemas['HotspotRead'][]
  points: Schemas['CasePoints']
}

export const WINDOW_DAYS = 30
// The newest this many cases are drawn (the map says so when there are more): enough to see
// where cases gather, and the answer stays small enough to poll every few seconds.
export const MAP_POINTS = 1000

export async function loadSnapshot(region: string, now: Date = new Date()): Promise<CommandSnapshot> {
  const path = { region_code: region }
  const period = { period: 'range' as const, ...recentRange(shanghaiToday(now), WINDOW_DAYS) }
  const [counts, trend, overdue, hotspots, points] = await Promise.all([
    ok(api.GET('/api/v1/feedback/command-centre/{region_code}/counts', { params: { path, query: period } })),
    ok(api.GET('/api/v1/feedback/command-centre/{region_code}/trend', { params: { path, query: period } })),
    ok(api.GET('/api/v1/feedback/command-centre/{region_code}/overdue', { params: { path, query: { limit: 50 } } })),
    ok(api.GET('/api/v1/feedback/command-centre/{region_code}/hotspots', { params: { path } })),
    ok(api.GET('/api/v1/events/points/{region_code}', { params: { path, query: { days: WINDOW_DAYS, limit: MAP_POINTS } } })),
  ])
  return { counts, trend: trend.items, overdue: overdue.items, hotspots: hotspots.items, points }
}

/** The regions a staff member may watch: their own scopes, or (admins, who have none) the
 * top level of the region tree. */
export async function watchableRegions(own: string[], isAdmin: boolean): Promise<string[]> {
  if (own.length || !isAdmin) return own
  const top = await ok(api.GET('/api/v1/routing/regions', { params: { query: {} } }))
  return top.items.map((r) => r.code)
}
