// The patrol being recorded, kept in localStorage so a reload (or a dead battery) does not
// lose it: its client-made id, its grid, the points not yet queued and the next batch number.
// Points are queued in batches (every BATCH_POINTS points or BATCH_SECONDS seconds), each a
// numbered batch the server takes once, however often it is sent.
import type { Fix } from './geo'
import { distanceM } from './geo'

export const BATCH_POINTS = 50
export const BATCH_SECONDS = 60
const KEY = 'ehome.grid.patrol'

export interface TrackPoint { lat: number; lng: number; at: string; accuracy_m: number | null }

export interface PatrolState {
  id: string
  gridCode: string
  startedAt: string
  nextBatch: number
  buffer: TrackPoint[]
  bufferSince: number // when the first point of the buffer came (ms)
  recorded: number // points recorded so far, queued or not
  distanceM: number
  last: TrackPoint | null
}

export function loadPatrol(): PatrolState | null {
  try {
    const raw = localStorage.getItem(KEY)
    return raw ? (JSON.parse(raw) as PatrolState) : null
  } catch {
    return null
  }
}

export function savePatrol(state: PatrolState | null): void {
  if (state) localStorage.setItem(KEY, JSON.stringify(state))
  else localStorage.removeItem(KEY)
}

export function newPatrol(id: string, gridCode: string, startedAt: string): PatrolState {
  return { id, gridCode, startedAt, nextBatch: 0, buffer: [], bufferSince: 0, recorded: 0,
    distanceM: 0, last: null }
}

/** The patrol with one more point (a point closer than 2 m to the last one adds nothing). */
export function addPoint(state: PatrolState, fix: Fix, at: Date): PatrolState {
  const point: TrackPoint = { lat: fix.lat, lng: fix.lng, at: at.toISOString(), accuracy_m: fix.accuracy_m }
  const step = state.last ? distanceM(state.last, point) : 0
  if (state.last && step < 2) return state
  return {
    ...state, buffer: [...state.buffer, point], recorded: state.recorded + 1,
    bufferSince: state.buffer.length ? state.bufferSince : at.getTime(),
    distanceM: state.distanceM + step, last: point,
  }
}

/** Whether the buffer is due to be queued as a batch. */
export function batchDue(state: PatrolState, now: number): boolean {
  return state.buffer.length >= BATCH_POINTS ||
    (state.buffer.length > 0 && now - state.bufferSince >= BATCH_SECONDS * 1000)
}
