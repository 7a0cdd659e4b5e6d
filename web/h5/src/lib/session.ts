// The signed-in resident: tokens kept in localStorage (WeChat's browser keeps it between
// visits from the menu), the user, and the background refresh before expiry. One module-level
// state rather than a store library: the pages only read it.
import { computed, ref } from 'vue'
import { configureAuth, ok, publicApi } from '@/api/client'
import { ApiError } from '@/api/errors'
import type { TokenPair, User } from '@/api/resident'
import { forgetGrid } from '@/lib/lastGrid'
import { refreshDelayMs } from '@/lib/refresh'

export const SESSION_KEY = 'ehome.h5.session'

interface Stored { access: string; refresh: string; expiresAt: number; user: User }

function load(): Stored | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY)
    return raw ? (JSON.parse(raw) as Stored) : null
  } catch {
    return null
  }
}

const stored = ref<Stored | null>(load())
/** Bumped each time the session ends against the resident's will (refresh refused). */
const lost = ref(0)
let timer: ReturnType<typeof setTimeout> | undefined
let inFlight: Promise<boolean> | null = null

function keep(pair: TokenPair): void {
  stored.value = {
    access: pair.access_token, refresh: pair.refresh_token, user: pair.user,
    expiresAt: Date.now() + pair.expires_in * 1000,
  }
  localStorage.setItem(SESSION_KEY, JSON.stringify(stored.value))
  schedule()
}

function forget(): void {
  if (timer) clearTimeout(timer)
  timer = undefined
  stored.value = null
  localStorage.removeItem(SESSION_KEY)
  forgetGrid()
}

function schedule(): void {
  if (timer) clearTimeout(timer)
  if (!stored.value) return
  const secondsLeft = (stored.value.expiresAt - Date.now()) / 1000
  timer = setTimeout(() => void refresh(), refreshDelayMs(secondsLeft))
}

/** One refresh at a time: concurrent 401s share it. */
function refresh(): Promise<boolean> {
  inFlight ??= renew().finally(() => { inFlight = null })
  return inFlight
}

async function renew(): Promise<boolean> {
  const current = stored.value
  if (!current) return false
  try {
    keep(await ok(publicApi.POST('/api/v1/identity/refresh', { body: { refresh_token: current.refresh } })))
    return true
  } catch (error) {
    // Refused: the session is over. No signal: keep it, and try again later.
    if (error instanceof ApiError && error.status < 500) sessionLost()
    else schedule()
    return false
  }
}

function sessionLost(): void {
  if (!stored.value) return
  forget()
  lost.value += 1
}

/** The user as identity now has it (after real-name verification, say). */
function updateUser(user: User): void {
  if (!stored.value) return
  stored.value = { ...stored.value, user }
  localStorage.setItem(SESSION_KEY, JSON.stringify(stored.value))
}

configureAuth({ token: () => stored.value?.access ?? null, refresh, sessionLost })
schedule()

export const session = {
  user: computed(() => stored.value?.user ?? null),
  signedIn: computed(() => stored.value !== null),
  lost,
  keep,
  refresh,
  updateUser,
  signOut: forget,
}
