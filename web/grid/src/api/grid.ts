// The #19 endpoints the app reads (routing duty and tasks, identity visits, feedback figures),
// typed from the contract (docs: /openapi.json), and read through one helper that keeps the
// last answer on the device: without signal, a page shows what it last saw.
import { authedFetch } from './client'
import { toApiError } from './errors'

export interface LatLng { lat: number; lng: number }

export interface Shift { grid_code: string; grid_name: string | null; starts: string | null; ends: string | null }
export interface CheckIn {
  id: string; kind: 'in' | 'out'; grid_code: string; at: string; lat: number; lng: number
  distance_m: number | null; flagged: boolean; flag_reason: string | null
}
export interface DutyToday { day: string; shifts: Shift[]; checked_in: CheckIn | null }

export interface TrailEntry {
  at: string; action: string; actor_id: string | null; from_worker_id: string | null
  to_worker_id: string | null; note: string | null
}
export interface GridTask {
  id: string; kind: 'assigned' | 'verification'; title: string; detail: string | null
  grid_code: string; worker_id: string | null; event_id: string | null; case_no: string | null
  due_at: string | null; status: 'open' | 'done' | 'cancelled'; completed_at: string | null
  on_time: boolean | null; trail: TrailEntry[]
}
export interface Page<T> { items: T[]; next_cursor: string | null }

export interface Person { id: string; name: string; gender?: string; birth_year?: number; household_id?: string | null }
export interface TemplateField {
  key: string; label: string; type: 'text' | 'number' | 'choice' | 'date' | 'phone'
  required?: boolean; choices?: string[]; options?: { code: string; label: string }[]
}
export interface Category {
  code: string; name: string; parent_code: string | null; template?: TemplateField[]; children?: Category[]
}

export interface RegionList { items: { code: string; name: string; level: string }[] }

export type Figures = Record<string, number | null>
export interface MyFigures {
  month: string; weights?: Record<string, number>
  worker?: { figures: Figures; score: number | null } | null
  figures?: Figures; score?: number | null
}

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
