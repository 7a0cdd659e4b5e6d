// A thin typed client over the gateway's OpenAPI. The token handling (bearer token, one renewal
// on a 401 `token_expired` and a replay) and ApiError are shared: web/shared/src.
import createClient from 'openapi-fetch'
import type { paths } from './schema'
import {
  type AuthHooks,
  type AuthOptions,
  createAuthedFetch as sharedAuthedFetch,
  ok,
  typedClients,
} from '@shared/authedFetch'
import { ApiError } from './errors'

export type { AuthHooks }

// The console signs out when a renewal fails.
const OPTIONS: AuthOptions = { endSessionWhenRenewalFails: true }

/** The token handling alone, for the tests. */
export function createAuthedFetch(hooks: () => AuthHooks, base: typeof fetch = fetch) {
  return sharedAuthedFetch(hooks, base, OPTIONS)
}

const clients = typedClients((options) => createClient<paths>(options), OPTIONS)
export const { configureAuth, createApi, api, authedFetch, publicApi } = clients

export { ApiError, ok }
