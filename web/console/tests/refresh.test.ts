import { describe, expect, it } from 'vitest'
import { refreshDelayMs } from '@/lib/refresh'

describe('background token refresh', () => {
  it('renews a 15-minute token two minutes before it expires', () => {
    expect(refreshDelayMs(900)).toBe(780_000)
  })
  it('renews a one-minute token a fifth of its life early', () => {
    expect(refreshDelayMs(60)).toBe(48_000)
  })
  it('renews a short token at least ten seconds early', () => {
    expect(refreshDelayMs(30)).toBe(20_000)
  })
  it('never schedules sooner than five seconds, even for an expired token', () => {
    expect(refreshDelayMs(0)).toBe(5_000)
    expect(refreshDelayMs(-30)).toBe(5_000)
  })
})
