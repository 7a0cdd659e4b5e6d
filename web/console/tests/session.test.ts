// @vitest-environment jsdom
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useSession } from '@/stores/session'

const user = { id: 'u1', kind: 'staff', roles: ['dept_staff'], departments: ['d1'], regions: [], verified: false }
const pair = (access: string) => ({ access_token: access, refresh_token: `r-${access}`, token_type: 'Bearer', expires_in: 900, user })
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), {
  status, headers: { 'Content-Type': status < 400 ? 'application/json' : 'application/problem+json' } })

describe('the session store', () => {
  let calls: string[]
  beforeEach(() => {
    sessionStorage.clear()
    setActivePinia(createPinia())
    calls = []
  })

  function answer(refresh: () => Response): void {
    vi.stubGlobal('fetch', async (request: Request) => {
      const path = new URL(request.url).pathname
      calls.push(path)
      if (path.endsWith('/staff-login')) return json(200, pair('a1'))
      if (path.endsWith('/refresh')) return refresh()
      return json(404, { code: 'nope' })
    })
  }

  it('keeps the tokens in sessionStorage after signing in', async () => {
    answer(() => json(200, pair('a2')))
    const session = useSession()
    await session.signIn('clerk', 'pw')
    expect(session.signedIn).toBe(true)
    expect(JSON.parse(sessionStorage.getItem('ehome.console.session') ?? '{}').access).toBe('a1')
  })

  it('shares one refresh between concurrent callers', async () => {
    answer(() => json(200, pair('a2')))
    const session = useSession()
    await session.signIn('clerk', 'pw')
    const results = await Promise.all([session.refresh(), session.refresh(), session.refresh()])
    expect(results).toEqual([true, true, true])
    expect(calls.filter((p) => p.endsWith('/refresh'))).toHaveLength(1)
    expect(JSON.parse(sessionStorage.getItem('ehome.console.session') ?? '{}').access).toBe('a2')
  })

  it('ends the session when identity refuses the refresh token', async () => {
    answer(() => json(401, { code: 'refresh_token_revoked', status: 401 }))
    const session = useSession()
    await session.signIn('clerk', 'pw')
    expect(await session.refresh()).toBe(false)
    expect(session.signedIn).toBe(false)
    expect(session.lost).toBe(1)
    expect(sessionStorage.getItem('ehome.console.session')).toBeNull()
  })

  it('stays signed in when the gateway is briefly unreachable', async () => {
    answer(() => json(503, { code: 'service_unavailable', status: 503 }))
    const session = useSession()
    await session.signIn('clerk', 'pw')
    expect(await session.refresh()).toBe(false)
    expect(session.signedIn).toBe(true)
    expect(session.lost).toBe(0)
  })
})
