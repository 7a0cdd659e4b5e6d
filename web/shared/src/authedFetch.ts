// The fetch every typed client goes through: it adds the bearer token, renews it once on a 401
// `token_expired` and replays the request, and ends the session when nothing helps.
import { REFRESHABLE_CODES, toApiError } from './problems'

export interface AuthHooks {
  /** The current access token, if signed in. */
  token(): string | null
  /** Renew the tokens; resolves false when they were not renewed. */
  refresh(): Promise<boolean>
  /** The session is over (revoked, or refresh refused): go back to sign-in. */
  sessionLost(): void
}

export interface AuthOptions {
  /** Whether a renewal that did not happen ends the session here. The console's does; the
   * phone apps' stores end it themselves when identity refused, and keep it when there was no
   * answer (no signal): a worker in the field or a resident tries again later. */
  endSessionWhenRenewalFails: boolean
}

export const noAuth: AuthHooks = {
  token: () => null, refresh: async () => false, sessionLost: () => {},
}

export function createAuthedFetch(hooks: () => AuthHooks, base: typeof fetch,
                                  options: AuthOptions) {
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
      const renewed = await hooks().refresh()
      if (!renewed && !options.endSessionWhenRenewalFails) return response
      if (renewed) {
        const second = await send(replay)
        if (second.status !== 401) return second
      }
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

/** What openapi-fetch's createClient takes, as far as these clients use it. */
export interface ClientOptions {
  baseUrl: string
  fetch: (request: Request) => Promise<Response>
}

/** An app's typed clients around its ``createClient``: ``api`` and ``createApi`` carry the
 * session's token (``configureAuth`` plugs the session in), ``authedFetch`` the same for raw
 * calls, ``publicApi`` none (sign-in, refresh and sign-out must not trigger a renewal). */
export function typedClients<C>(createClient: (options: ClientOptions) => C,
                                options: AuthOptions) {
  let hooks: AuthHooks = noAuth
  const authed = (base: typeof fetch) => createAuthedFetch(() => hooks, base, options)
  const plainFetch: typeof fetch = (input, init) => fetch(input, init)
  const origin = typeof window === 'undefined' ? 'http://localhost' : window.location.origin
  const createApi = (baseUrl: string, base: typeof fetch = plainFetch) =>
    createClient({ baseUrl, fetch: authed(base) })
  return {
    configureAuth(next: AuthHooks): void {
      hooks = next
    },
    createApi,
    api: createApi(origin),
    authedFetch: authed(plainFetch),
    publicApi: createClient({ baseUrl: origin, fetch: plainFetch }),
  }
}
