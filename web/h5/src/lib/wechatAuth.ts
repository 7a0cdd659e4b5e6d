// The round trip of WeChat web authorisation: before leaving for WeChat, a random `state` and
// the page to come back to are kept in sessionStorage; WeChat sends the browser back to the
// sign-in page with `code` and `state`, and the code is only used when the state is ours
// (a code carried in by someone else's link must not sign anyone in).

export const PENDING_KEY = 'ehome.h5.wechat-auth'
export const RETURN_PATH = '/h5/sign-in'

export interface Pending { state: string; next: string }

export type Returned =
  | { kind: 'none' }
  | { kind: 'mismatch' }
  | { kind: 'code'; code: string; next: string }

export function randomState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Where WeChat sends the browser back: this site's sign-in page, nothing else in it. */
export function redirectUri(origin: string): string {
  return `${origin}${RETURN_PATH}`
}

/** Only a path of these pages is a place to go back to, never another site. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}

export function remember(storage: Storage, next: string): Pending {
  const pending = { state: randomState(), next: safeNext(next) }
  storage.setItem(PENDING_KEY, JSON.stringify(pending))
  return pending
}

/** What the query WeChat came back with says; the kept state is used once. */
export function returned(storage: Storage, query: Record<string, unknown>): Returned {
  const { code, state } = query
  if (typeof code !== 'string' || !code) return { kind: 'none' }
  const raw = storage.getItem(PENDING_KEY)
  storage.removeItem(PENDING_KEY)
  let pending: Pending | null = null
  try {
    pending = raw ? (JSON.parse(raw) as Pending) : null
  } catch {
    pending = null
  }
  if (!pending || typeof state !== 'string' || state !== pending.state) return { kind: 'mismatch' }
  return { kind: 'code', code, next: safeNext(pending.next) }
}
