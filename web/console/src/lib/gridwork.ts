// Grid-worker management (#19) as the managers' pages read it: the shapes the routing,
// identity and feedback endpoints answer (docs: /work CONTRACT, the OpenAPI once it lands),
// one small JSON caller for them, and the pure rules the pages show (overdue tasks, polygons
// typed as text, figures and scores).
import { authedFetch } from '@/api/client'
import { ApiError, toApiError } from '@/api/errors'
import type { components } from '@/api/schema'
import { t } from '@/i18n/zh-CN'
import { problemText } from '@/lib/problemText'

export const GRID_CODE = /^\d{15}$/
export const MANAGER_ROLES = ['dispatcher', 'supervisor', 'admin'] as const

type Schemas = components['schemas']

// The API's own shapes (web/console/openapi.json), so a server change breaks the build here.
export type Training = Schemas['TrainingRead']
export type GridWorker = Schemas['GridWorkerRead']
export type TrailEntry = Schemas['TrailEntry']
export type GridTask = Schemas['GridTaskRead']
export type CheckIn = Schemas['CheckInRead']
export type DailyLog = Schemas['LogRead']
export type Visit = Schemas['VisitRead']
export type Patrol = Schemas['PatrolRead']
export type Coverage = Schemas['Coverage']
export type RosterDay = Pick<Schemas['RosterRead'], 'day' | 'worker_ids'> & { starts?: string | null; ends?: string | null }
export type LeaveAnswer = Schemas['LeaveRead']
export type Figures = Record<string, number | null>

/** A scorecard row (a worker's or a grid's) as the pages read it. */
export interface ScorecardRow {
  worker_id?: string
  display_name?: string | null
  grid_code?: string
  grid_codes?: string[]
  figures: Figures
  score: number | null
}

export interface GridScorecard {
  month: string
  region_code?: string
  weights: Record<string, number>
  workers: ScorecardRow[]
  grids: ScorecardRow[]
}

export interface Page<T> { items: T[]; next_cursor?: string | null }

type Query = Record<string, string | number | boolean | null | undefined>

export interface CallOptions {
  query?: Query
  body?: unknown
  /** A retry-safe write: sent with a fresh Idempotency-Key. */
  idempotent?: boolean
}

/** The request a call sends: the query without empty values, JSON, and a fresh
 * Idempotency-Key when the write is retry-safe. */
export function requestFor(method: string, path: string, options: CallOptions, origin: string): Request {
  const url = new URL(path, origin)
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value))
  }
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  if (options.idempotent) headers['Idempotency-Key'] = crypto.randomUUID()
  return new Request(url, { method, headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body) })
}

/** One JSON call to the gateway with the session's token; problem+json becomes ApiError. */
export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const response = await authedFetch(requestFor(method, path, options, window.location.origin))
  const text = await response.text()
  let parsed: unknown = null
  try {
    parsed = text ? JSON.parse(text) : null
  } catch {
    parsed = text
  }
  if (!response.ok) throw toApiError(response.status, parsed)
  return parsed as T
}

/** A refusal in Chinese: this area's codes first, then the console's catalog. */
export function gridworkProblem(error: unknown): string {
  if (error instanceof ApiError) {
    const own = t.gridwork.problems[error.code]
    if (own) return own
  }
  return problemText(error)
}

/** An open task past its deadline. */
export function isOverdue(task: Pick<GridTask, 'status' | 'due_at'>, nowMs: number): boolean {
  return task.status === 'open' && new Date(task.due_at).getTime() < nowMs
}

/** How a task stands for the list: done on time or late, open, overdue, cancelled. */
export function taskState(task: Pick<GridTask, 'status' | 'due_at' | 'on_time'>, nowMs: number): string {
  if (task.status === 'done') return task.on_time === false ? 'doneLate' : 'done'
  if (task.status === 'cancelled') return 'cancelled'
  return isOverdue(task, nowMs) ? 'overdue' : 'open'
}

/** A Beijing day and time ("2026-12-11", "18:00") as the instant the API takes. */
export function dueAt(day: string, time = '18:00'): string {
  return new Date(`${day}T${time}:00+08:00`).toISOString()
}

export type Polygon = [number, number][]

/** A polygon typed one "lat,lng" per line (or separated by spaces or semicolons). */
export function parsePolygon(text: string): { polygon: Polygon } | { problem: string } {
  const pairs = text.split(/[\n;]+/).map((line) => line.trim()).filter(Boolean)
  const polygon: Polygon = []
  for (const pair of pairs) {
    const numbers = pair.split(/[\s,\uff0c]+/).filter(Boolean).map(Number)
    const [lat, lng] = numbers
    if (numbers.length !== 2 || lat === undefined || lng === undefined
      || !Number.isFinite(lat) || !Number.isFinite(lng)) return { problem: t.gridwork.area.badLine(pair) }
    if (Math.abs(lat) > 90 || Math.abs(lng) > 180) return { problem: t.gridwork.area.badLine(pair) }
    polygon.push([lat, lng])
  }
  if (polygon.length < 3) return { problem: t.gridwork.area.tooFew }
  return { polygon }
}

/** A polygon back as the editor's text, one corner a line. */
export function formatPolygon(polygon: readonly (readonly number[])[]): string {
  return polygon.map(([lat, lng]) => `${lat},${lng}`).join('\n')
}

/** The grid codes typed or picked, each 15 digits, once each; the bad ones named. */
export function gridCodes(values: readonly string[]): { codes: string[]; bad: string[] } {
  const codes = [...new Set(values.map((v) => v.trim()).filter(Boolean))]
  return { codes: codes.filter((c) => GRID_CODE.test(c)), bad: codes.filter((c) => !GRID_CODE.test(c)) }
}

/** The grids under a region, walking the region tree down to its 15-digit leaves. */
export async function gridsUnder(code: string,
  children: (parent: string) => Promise<{ code: string; name: string }[]>,
  path = ''): Promise<{ code: string; name: string }[]> {
  if (code.length >= 15) return [{ code, name: path || code }]
  const below = await children(code)
  const nested = await Promise.all(below.map((r) =>
    gridsUnder(r.code, children, path ? `${path} / ${r.name}` : r.name)))
  return nested.flat()
}

/** "YYYY-MM" of a Beijing day. */
export function monthOf(day: string): string {
  return day.slice(0, 7)
}

/** The seven days of the week starting at `day` ("YYYY-MM-DD"). */
export function weekFrom(day: string): string[] {
  const start = new Date(`${day}T12:00:00Z`)
  return Array.from({ length: 7 }, (_, i) => {
    const d = new Date(start)
    d.setUTCDate(start.getUTCDate() + i)
    return d.toISOString().slice(0, 10)
  })
}

/** A figure as shown: hours and kilometres with one decimal, ratios as percentages. */
export function formatFigure(key: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (key.endsWith('_rate') || key.endsWith('_ratio')) return `${(value * 100).toFixed(1)}%`
  if (key.endsWith('_m')) return `${(value / 1000).toFixed(1)} km`
  if (!Number.isInteger(value)) return value.toFixed(1)
  return String(value)
}

/** The figure columns of a scorecard: the weighted ones first, then any others, once each. */
export function figureKeys(card: Pick<GridScorecard, 'weights' | 'workers' | 'grids'>): string[] {
  const keys = new Set(Object.keys(card.weights))
  for (const row of [...card.workers, ...card.grids]) for (const k of Object.keys(row.figures)) keys.add(k)
  return [...keys]
}

/** Weights as typed: numbers between 0 and 1000 (feedback's bounds), else the key that is
 * wrong. */
export function weightsProblem(weights: Record<string, number | null | undefined>): string | null {
  const bad = Object.entries(weights).find(([, v]) => typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1000)
  return bad ? bad[0] : null
}

/** The weights from GET /grid-scorecards/weights (flat), or from an answer enveloping them. */
export function weightsOf(answer: unknown): Record<string, number> {
  if (answer && typeof answer === 'object') {
    const inner = (answer as { weights?: unknown }).weights
    const source = inner && typeof inner === 'object' ? inner : answer
    return Object.fromEntries(Object.entries(source as Record<string, unknown>)
      .filter((e): e is [string, number] => typeof e[1] === 'number'))
  }
  return {}
}

/** A cell's shade on the coverage map: more visits, deeper; 0.15 .. 0.85 opacity. */
export function cellOpacity(visits: number, most: number): number {
  if (most <= 0 || visits <= 0) return 0.15
  return 0.15 + 0.7 * Math.min(1, visits / most)
}

/** Metres as "1.2 km" or "350 m". */
export function formatDistance(metres: number | null | undefined): string {
  if (metres === null || metres === undefined) return '—'
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`
}

/** Where a click on a map view lands, as latitude and longitude (inverse Web Mercator). */
export function fromView(view: { zoom: number; origin: { x: number; y: number } }, x: number,
  y: number): { lat: number; lng: number } {
  const scale = 256 * 2 ** view.zoom
  const wx = (view.origin.x + x) / scale
  const wy = (view.origin.y + y) / scale
  const lng = wx * 360 - 180
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * wy))) * 180) / Math.PI
  return { lat: Number(lat.toFixed(6)), lng: Number(lng.toFixed(6)) }
}

/** A length on the ground as pixels on the map at that latitude and zoom. */
export function metresToPixels(metres: number, lat: number, zoom: number): number {
  const metresPerPixel = (156_543.034 * Math.cos((lat * Math.PI) / 180)) / 2 ** zoom
  return metres / metresPerPixel
}
