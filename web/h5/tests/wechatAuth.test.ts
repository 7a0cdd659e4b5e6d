// The WeChat authorisation round trip: the code coming back is used only with the state this
// browser sent, once, and the page to go back to is always one of these pages.
import { describe, expect, it } from 'vitest'
import { PENDING_KEY, redirectUri, remember, returned, safeNext } from '../src/lib/wechatAuth'

class MemoryStorage implements Storage {
  private items = new Map<string, string>()
  get length(): number { return this.items.size }
  clear(): void { this.items.clear() }
  getItem(key: string): string | null { return this.items.get(key) ?? null }
  key(index: number): string | null { return [...this.items.keys()][index] ?? null }
  removeItem(key: string): void { this.items.delete(key) }
  setItem(key: string, value: string): void { this.items.set(key, value) }
}

describe('WeChat web authorisation', () => {
  it('comes back to the sign-in page of these pages only', () => {
    expect(redirectUri('https://ehome.example.cn')).toBe('https://ehome.example.cn/h5/sign-in')
  })

  it('signs in with the code when the state is the one it sent, and goes on to the page asked for', () => {
    const storage = new MemoryStorage()
    const pending = remember(storage, '/relief?x=1')
    expect(pending.state).toMatch(/^[0-9a-f]{32}$/)
    expect(returned(storage, { code: 'c1', state: pending.state })).toEqual({ kind: 'code', code: 'c1', next: '/relief?x=1' })
    expect(storage.getItem(PENDING_KEY)).toBeNull()
  })

  it('refuses a code with another state, or one used already', () => {
    const storage = new MemoryStorage()
    const pending = remember(storage, '/')
    expect(returned(storage, { code: 'c1', state: 'forged' })).toEqual({ kind: 'mismatch' })
    expect(returned(storage, { code: 'c1', state: pending.state })).toEqual({ kind: 'mismatch' })
  })

  it('starts an authorisation when no code came back', () => {
    expect(returned(new MemoryStorage(), {})).toEqual({ kind: 'none' })
  })

  it('never goes back to another site', () => {
    expect(safeNext('//evil.example/x')).toBe('/')
    expect(safeNext('https://evil.example/')).toBe('/')
    expect(safeNext(undefined)).toBe('/')
    expect(safeNext('/cases/1')).toBe('/cases/1')
  })

  it('draws different states each time', () => {
    const storage = new MemoryStorage()
    expect(remember(storage, '/').state).not.toBe(remember(storage, '/').state)
  })
})
