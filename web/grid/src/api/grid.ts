// The #19 endpoints the app reads (routing duty and tasks, identity visits, feedback figures),
// typed from the platform's OpenAPI snapshot (web/openapi.json → schema.d.ts: a backend
// change breaks the build), and read through one helper that keeps the last answer on the
// device: without signal, a page shows what it last saw.
import { authedFetch } from './client'
import { toApiError } from './errors'
import type { components } from './schema'

type Schemas = components['schemas']

export type Shift = Schemas['Shift']
export type CheckIn = Schemas['CheckInRead']
export type DutyToday = Schemas['TodayDuty']
export type TrailEntry = Schemas['TrailEntry']
export type GridTask = Schemas['GridTaskRead']
export type GridTaskPage = Schemas['GridTaskPage']
export type Person = Schemas['RegistryPersonRead']
export type PeoplePage = Schemas['RegistryPage']
export type TemplateField = Schemas['TemplateFieldSchema']
export type Category = Schemas['CategoryRead']
export type CategoryTree = Schemas['CategoryTree']
export type RegionList = Schemas['RegionList']
export type MyFigures = Schemas['GridScorecardMine']

// What the app writes (queued in the outbox): each view's body ``satisfies`` its shape.
export type CheckInCreate = Schemas['CheckInCreate']
export type LogCreate = Schemas['LogCreate']
export type PatrolCreate = Schemas['PatrolCreate']
export type PointBatch = Schemas['PointBatch']
export type PatrolFinish = Schemas['PatrolFinish']
export type CompletionIn = Schemas['CompletionIn']
export type VerifyIn = Schemas['VerifyIn']
export type VisitCreate = Schemas['VisitCreate']
export type EventCreate = Schemas['EventCreate']

export interface Cached<T> { data: T; fromCache: boolean; savedAt: number }

const CACHE_PREFIX = 'ehome.grid.cache:'

/** GET a JSON document; without signal (or on a 5xx), the last one kept for this path. */
export async function readKept<T>(path: string): Promise<Cached<T>> {
  const key = CACHE_PREFIX + path
  try {
    const response = await authedFetch(new Request(window.location.origin + path))
    const body: unknown = await response.json().catch(() => null)
    if (!response.ok) {
      if (response.status >= 500) return fromDevice<T>(key, toApiError(response.status, body))
      throw toApiError(response.status, body)
    }
    const savedAt = Date.now()
    try {
      localStorage.setItem(key, JSON.stringify({ data: body, savedAt }))
    } catch {
      // the device is full: the page still shows this answer, just not offline
    }
    return { data: body as T, fromCache: false, savedAt }
  } catch (error) {
    if (error instanceof TypeError) return fromDevice<T>(key, error)
    throw error
  }
}

function fromDevice<T>(key: string, failure: Error): Cached<T> {
  const raw = localStorage.getItem(key)
  if (!raw) throw failure
  const kept = JSON.parse(raw) as { data: T; savedAt: number }
  return { data: kept.data, fromCache: true, savedAt: kept.savedAt }
}

/** What was last read from ``path`` on this phone, if anything. */
export function keptData<T>(path: string): T | null {
  try {
    const raw = localStorage.getItem(CACHE_PREFIX + path)
    return raw ? (JSON.parse(raw) as { data: T }).data : null
  } catch {
    return null
  }
}

/** Forget what pages kept (at sign-out: the next worker on this phone sees none of it). */
export function forgetKept(): void {
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith(CACHE_PREFIX)) localStorage.removeItem(key)
  }
}

export const paths = {
  dutyToday: '/api/v1/routing/duty/today',
  checkIns: '/api/v1/routing/duty/check-ins',
  logs: '/api/v1/routing/duty/logs',
  patrols: '/api/v1/routing/patrols',
  patrolPoints: (id: string) => `/api/v1/routing/patrols/${id}/points`,
  patrolFinish: (id: string) => `/api/v1/routing/patrols/${id}/finish`,
  myTasks: '/api/v1/routing/grid-tasks?mine=true&status=open&limit=100',
  task: (id: string) => `/api/v1/routing/grid-tasks/${id}`,
  taskCompletion: (id: string) => `/api/v1/routing/grid-tasks/${id}/completion`,
  visits: '/api/v1/identity/visits',
  people: (grid: string) => `/api/v1/identity/registry/people?region=${grid}&limit=200`,
  categories: '/api/v1/events/categories',
  regions: (parent: string) => `/api/v1/routing/regions?parent=${parent}`,
  events: '/api/v1/events',
  event: (id: string) => `/api/v1/events/${id}`,
  verify: (id: string) => `/api/v1/events/${id}/verify`,
  myFigures: (month: string) => `/api/v1/feedback/grid-scorecards/me?month=${month}`,
}
