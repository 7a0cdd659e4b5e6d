import { describe, expect, it } from 'vitest'
import { createAuthedFetch, type AuthHooks } from '@/api/client'

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
    await request.text() // the body is consumed, as a real fetch does
    return answers.shift() ?? new Response('{}')
  }
  const send = createAuthedFetch(() => hooks, base as typeof fetch)
  return { send, seen, events }
}

const post = () => new Request('http://x/api/v1/events/1/accept', { method: 'POST', body: '{"note":null}' })

describe('api client tokens', () => {
  it('renews an expired token once and replays the request with the new one', async () => {
    const h = harness([problem(401, 'token_expired'), new Response('{"ok":true}')], true)
    const answer = await h.send(post())
    expect(answer.status).toBe(200)
    expect(h.seen).toEqual(['Bearer old', 'Bearer new'])
    expect(h.events).toEqual(['refresh'])
  })
  it('ends the session when the refresh is refused', async () => {
    const h = harness([problem(401, 'token_expired')], false)
    expect((await h.send(post())).status).toBe(401)
    expect(h.events).toEqual(['refresh', 'lost'])
  })
  it('ends the session on a revoked token without trying to refresh', async () => {
    const h = harness([problem(401, 'token_revoked')], true)
    expect((await h.send(post())).status).toBe(401)
    expect(h.events).toEqual(['lost'])
  })
  it('does not refresh twice when the replay is refused too', async () => {
    const h = harness([problem(401, 'token_expired'), problem(401, 'token_expired')], true)
    expect((await h.send(post())).status).toBe(401)
    expect(h.events).toEqual(['refresh', 'lost'])
  })
  it('passes a 403 through untouched: no access is not a lost session', async () => {
    const h = harness([problem(403, 'out_of_scope')], true)
    expect((await h.send(post())).status).toBe(403)
    expect(h.events).toEqual([])
  })
})
