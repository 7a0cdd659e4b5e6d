// Pages read through readKept: the answer when there is signal (kept on the phone), the kept
// one when there is none or the server fails, and a refusal is never hidden by an old answer.
import { beforeEach, describe, expect, it, vi } from 'vitest'

class MemoryStorage {
  private values = new Map<string, string>()
  get length() { return this.values.size }
  key(i: number) { return [...this.values.keys()][i] ?? null }
  getItem(k: string) { return this.values.get(k) ?? null }
  setItem(k: string, v: string) { this.values.set(k, v) }
  removeItem(k: string) { this.values.delete(k) }
  clear() { this.values.clear() }
}

const storage = new MemoryStorage()
vi.stubGlobal('localStorage', new Proxy(storage, {
  ownKeys: () => [...Array(storage.length).keys()].map((i) => storage.key(i)!),
  getOwnPropertyDescriptor: () => ({ enumerable: true, configurable: true }),
}))
vi.stubGlobal('window', { location: { origin: 'http://phone.test' } })

const answers: (Response | Error)[] = []
vi.stubGlobal('fetch', async () => {
  const next = answers.shift()
  if (!next || next instanceof Error) throw next ?? new TypeError('Failed to fetch')
  return next
})

const { readKept, forgetKept, keptData } = await import('../src/api/grid')
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

beforeEach(() => { storage.clear(); answers.length = 0 })

describe('reading with the last answer kept', () => {
  it('answers from the server and keeps it', async () => {
    answers.push(json(200, { items: [1] }))
    const read = await readKept<{ items: number[] }>('/api/v1/x')
    expect(read).toMatchObject({ data: { items: [1] }, fromCache: false })
    expect(keptData('/api/v1/x')).toEqual({ items: [1] })
  })

  it('answers the kept one without signal or on a 5xx, saying so', async () => {
    answers.push(json(200, { items: [1] }), new TypeError('Failed to fetch'), json(503, {}))
    await readKept('/api/v1/x')
    expect(await readKept('/api/v1/x')).toMatchObject({ data: { items: [1] }, fromCache: true })
    expect(await readKept('/api/v1/x')).toMatchObject({ data: { items: [1] }, fromCache: true })
  })

  it('fails without signal when nothing was kept', async () => {
    answers.push(new TypeError('Failed to fetch'))
    await expect(readKept('/api/v1/never')).rejects.toBeInstanceOf(TypeError)
  })

  it('passes a refusal on rather than an old answer', async () => {
    answers.push(json(200, { items: [1] }), json(403, { code: 'out_of_scope', status: 403 }))
    await readKept('/api/v1/x')
    await expect(readKept('/api/v1/x')).rejects.toMatchObject({ code: 'out_of_scope' })
  })

  it('forgets everything kept at sign-out, and nothing else', async () => {
    storage.setItem('ehome.grid.session', '{}')
    answers.push(json(200, { items: [1] }))
    await readKept('/api/v1/x')
    forgetKept()
    expect(keptData('/api/v1/x')).toBeNull()
    expect(storage.getItem('ehome.grid.session')).toBe('{}')
  })
})
