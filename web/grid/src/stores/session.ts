// The signed-in grid worker: tokens kept in localStorage (the app must open signed in on a
// phone without signal, and the queued writes need the refresh token when the signal
// returns), the user with roles and grids, and the background refresh before expiry.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { configureAuth, ok, publicApi } from '@/api/client'
import { ApiError } from '@/api/errors'
import type { components } from '@/api/schema'
import { refreshDelayMs } from '@/lib/refresh'

export type User = components['schemas']['UserRead']
type TokenPair = components['schemas']['TokenPair']

export const SESSION_KEY = 'ehome.grid.session'

interface Stored {
  access: string
  refresh: string
  expiresAt: number
  user: User
}

function load(): Stored | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY)
    return raw ? (JSON.parse(raw) as Stored) : null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const stored = ref<Stored | null>(load())
  const lost = ref(0) // bumped each time the session ends against the worker's will
  let timer: ReturnType<typeof setTimeout> | undefined
  let inFlight: Promise<boolean> | null = null

  const user = computed(() => stored.value?.user ?? null)
  const signedIn = computed(() => stored.value !== null)
  const grids = computed(() => (stored.value?.user.regions ?? []).filter((r) => r.length === 15))
  const isWorker = computed(() => (stored.value?.user.roles ?? []).includes('grid_worker'))

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
  }

  function schedule(): void {
    if (timer) clearTimeout(timer)
    if (!stored.value) return
    const secondsLeft = (stored.value.expiresAt - Date.now()) / 1000
    timer = setTimeout(() => void refresh(), refreshDelayMs(secondsLeft))
  }

  async function signIn(username: string, password: string): Promise<void> {
    keep(await ok(publicApi.POST('/api/v1/identity/staff-login', { body: { username, password } })))
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
      keep(await ok(publicApi.POST('/api/v1/identity/refresh', {
        body: { refresh_token: current.refresh } })))
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

  async function signOut(): Promise<void> {
    const current = stored.value
    forget()
    if (current) {
      await publicApi.POST('/api/v1/identity/logout', {
        body: { refresh_token: current.refresh },
        headers: { Authorization: `Bearer ${current.access}` },
      }).catch(() => undefined)
    }
  }

  configureAuth({ token: () => stored.value?.access ?? null, refresh, sessionLost })
  schedule()

  return { user, signedIn, grids, isWorker, lost, signIn, signOut, refresh, sessionLost }
})
