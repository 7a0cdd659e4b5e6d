// A thin typed client over the gateway's OpenAPI: it adds the bearer token, renews it once on
// a 401 `token_expired` and replays the request, and turns problem+json into ApiError.
import createClient from 'openapi-fetch'
import type { paths } from './schema'
import { ApiError, REFRESHABLE_CODES, toApiError } from './errors'

export interface AuthHooks {
  /** The current access token, if signed in. */
  token(): string | null
  /** Renew the tokens; resolves false when they were not renewed (the store ends the session
   * itself when identity refused). */
  refresh(): Promise<boolean>
  /** The session is over (revoked, or refresh refused): go back to sign-in. */
  sessionLost(): void
}

const noAuth: AuthHooks = { token: () => null, refresh: async () => false, sessionLost: () => {} }

export function createAuthedFetch(hooks: () => AuthHooks, base: typeof fetch = fetch) {
  const send = (request: Request): Promise<Response> => {
    const token = hooks().token()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    return base(request)
  }
  return async (request: Request): Promise<Response> => {
    const replay = request.clone()
    const response = await send(request)
    if (response.status !== 401 || !hooks().token()) return response
    const code = await problemCode(response.clone())
    if (code && REFRESHABLE_CODES.has(code)) {
      // A refused refresh ends the session itself; one that had no answer (no signal) keeps
      // the resident signed in: they try again when the signal is back.
      if (!(await hooks().refresh())) return response
      const second = await send(replay)
      if (second.status !== 401) return second
    }
    hooks().sessionLost()
    return response
  }
}

async function problemCode(response: Response): Promise<string | null> {
  try {
    const body = (await response.json()) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : null
  } catch {
    return null
  }
}

let hooks: AuthHooks = noAuth
export function configureAuth(next: AuthHooks): void {
  hooks = next
}

export function createApi(baseUrl: string, base: typeof fetch = (r) => fetch(r)) {
  return createClient<paths>({ baseUrl, fetch: createAuthedFetch(() => hooks, base) })
}

const origin = typeof window === 'undefined' ? 'http://localhost' : window.location.origin
export const api = createApi(origin)
/** The same token handling for the few calls that need the raw response (headers, bytes). */
export const authedFetch = createAuthedFetch(() => hooks, (r) => fetch(r))
/** Sign-in, refresh and sign-out: calls that carry no access token and must not trigger a
 * refresh themselves. */
export const publicApi = createClient<paths>({ baseUrl: origin, fetch: (r) => fetch(r) })

interface Answer<T> {
  data?: T
  error?: unknown
  response: Response
}

/** The answer's data, or its ApiError thrown. */
export async function ok<T>(pending: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await pending
  if (!response.ok) throw toApiError(response.status, error)
  return data as T
}

export { ApiError }
