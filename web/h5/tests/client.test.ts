// The API client's tokens on a phone: an expired token is renewed once and the request
// replayed; a refresh without an answer (no signal) keeps the resident signed in.
import { describe, expect, it } from 'vitest'
import { createAuthedFetch, type AuthHooks } from '../src/api/client'

function problem(status: number, code: string): Response {
  return new Response(JSON.stringify({ status, code, title: code }),
    { status, headers: { 'Content-Type': 'application/problem+json' } })
}

function harness(answers: Response[], refreshes: boolean) {
  let token = 'old'
  const seen: (string | null)[] = []
  const events: string[] = []
  const hooks: AuthHooks = {
    token: () => token,
    refresh: async () => { events.push('refresh'); if (refreshes) token = 'new'; return refreshes },
    sessionLost: () => { events.push('lost') },
  }
  const base = async (request: Request) => {
    seen.push(request.headers.get('Authorization'))
    await request.text()
    return answers.shift() ?? new Response('{}')
  }
  return { send: createAuthedFetch(() => hooks, base as typeof fetch), seen, events }
}

const post = () => new Request('http://x/api/v1/identity/visits', { method: 'POST', body: '{}' })

describe('api client tokens', () => {
  it('renews an expired token once and replays the request with the new one', async () => {
    const h = harness([problem(401, 'token_expired'), new Response('{"ok":true}')], true)
    expect((await h.send(post())).status).toBe(200)
    expect(h.seen).toEqual(['Bearer old', 'Bearer new'])
    expect(h.events).toEqual(['refresh'])
  })
  it('leaves the session to the store when the refresh did not happen', async () => {
    const h = harness([problem(401, 'token_expired')], false)
    expect((await h.send(post())).status).toBe(401)
    expect(h.events).toEqual(['refresh'])
  })
  it('ends the session on a revoked token, or when the replay is refused too', async () => {
    const revoked = harness([problem(401, 'token_revoked')], true)
    expect((await revoked.send(post())).status).toBe(401)
    expect(revoked.events).toEqual(['lost'])
    const twice = harness([problem(401, 'token_expired'), problem(401, 'token_expired')], true)
    expect((await twice.send(post())).status).toBe(401)
    expect(twice.events).toEqual(['refresh', 'lost'])
  })
  it('passes a 403 through untouched', async () => {
    const h = harness([problem(403, 'out_of_scope')], true)
    expect((await h.send(post())).status).toBe(403)
    expect(h.events).toEqual([])
  })
})
