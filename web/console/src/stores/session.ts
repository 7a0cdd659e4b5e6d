// The signed-in staff member: tokens (kept in sessionStorage so a reload stays signed in, and
// closing the tab signs out), the user with roles, and the background refresh before expiry.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { configureAuth, ok, publicApi } from '@/api/client'
import { ApiError } from '@/api/errors'
import type { components } from '@/api/schema'
import { refreshDelayMs } from '@/lib/refresh'

export type User = components['schemas']['UserRead']
type TokenPair = components['schemas']['TokenPair']

const STORAGE_KEY = 'ehome.console.session'

interface Stored {
  access: string
  refresh: string
  expiresAt: number
  user: User
}

function load(): Stored | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY)
    return raw ? (JSON.parse(raw) as Stored) : null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const stored = ref<Stored | null>(load())
  const lost = ref(0) // bumped each time the session ends against the user's will
  let timer: ReturnType<typeof setTimeout> | undefined
  let inFlight: Promise<boolean> | null = null

  const user = computed(() => stored.value?.user ?? null)
  const signedIn = computed(() => stored.value !== null)
  const roles = computed(() => new Set(stored.value?.user.roles ?? []))

  function keep(pair: TokenPair): void {
    stored.value = {
      access: pair.access_token, refresh: pair.refresh_token, user: pair.user,
      expiresAt: Date.now() + pair.expires_in * 1000,
    }
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored.value))
    schedule()
  }

  function forget(): void {
    if (timer) clearTimeout(timer)
    timer = undefined
    stored.value = null
    sessionStorage.removeItem(STORAGE_KEY)
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
      if (error instanceof ApiError && error.status < 500) sessionLost()
      else schedule() // the gateway was briefly unreachable: try again later
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
      // Best effort: the tokens are already gone from this tab whatever identity answers.
      await publicApi.POST('/api/v1/identity/logout', {
        body: { refresh_token: current.refresh },
        headers: { Authorization: `Bearer ${current.access}` },
      }).catch(() => undefined)
    }
  }

  configureAuth({ token: () => stored.value?.access ?? null, refresh, sessionLost })
  schedule()

  return { user, signedIn, roles, lost, signIn, signOut, refresh, sessionLost }
})
