// The typed clients every app builds (web/shared/src/authedFetch.ts): the session's token on
// the API's calls once the session is plugged in, none on the public ones.
import { describe, expect, it, vi } from 'vitest'
import { typedClients, type ClientOptions } from '@shared/authedFetch'

describe('typedClients', () => {
  it('sends the session token through api and authedFetch, never through publicApi', async () => {
    const made: ClientOptions[] = []
    const seen: (string | null)[] = []
    vi.stubGlobal('fetch', async (request: Request) => {
      seen.push(request.headers.get('Authorization'))
      return new Response('{}', { status: 200 })
    })
    const clients = typedClients((options) => { made.push(options); return options },
                                 { endSessionWhenRenewalFails: false })
    clients.configureAuth({ token: () => 'T1', refresh: async () => false, sessionLost: () => {} })
    await clients.api.fetch(new Request('http://localhost/api/v1/events'))
    await clients.authedFetch(new Request('http://localhost/api/v1/events/1/timeline'))
    await clients.publicApi.fetch(new Request('http://localhost/api/v1/identity/refresh'))
    vi.unstubAllGlobals()
    expect(made.map((o) => o.baseUrl)).toEqual(['http://localhost', 'http://localhost'])
    expect(seen).toEqual(['Bearer T1', 'Bearer T1', null])
  })
})
