import { describe, expect, it } from 'vitest'
import { countdown, formatDateTime, formatSpan, nextDay, shanghaiDayStart } from '@/lib/time'

const MIN = 60_000
const HOUR = 60 * MIN

describe('dates read in Beijing time', () => {
  it('shows a UTC instant as the Beijing wall clock', () => {
    expect(formatDateTime('2026-12-06T17:30:00Z')).toBe('2026-12-07 01:30')
  })
  it('starts a Beijing day at 16:00 UTC the day before', () => {
    expect(shanghaiDayStart('2026-12-07')).toBe('2026-12-06T16:00:00.000Z')
  })
  it('ends a date range at the start of the next day, across a month end', () => {
    expect(nextDay('2026-12-31')).toBe('2027-01-01')
  })
})

describe('deadline countdown', () => {
  const now = Date.parse('2026-12-06T00:00:00Z')
  it('counts days and hours left', () => {
    const c = countdown(new Date(now + 26 * HOUR + 5 * MIN).toISOString(), now)
    expect(c).toMatchObject({ overdue: false, text: '剩余 1天2小时' })
  })
  it('counts hours and minutes when under a day', () => {
    expect(countdown(new Date(now + 3 * HOUR + 20 * MIN).toISOString(), now).text).toBe('剩余 3小时20分钟')
  })
  it('says how long ago a passed deadline was', () => {
    const c = countdown(new Date(now - 5 * HOUR).toISOString(), now)
    expect(c).toMatchObject({ overdue: true, text: '已超时 5小时' })
  })
  it('says less than a minute rather than zero', () => {
    expect(formatSpan(30_000)).toBe('不到1分钟')
  })
})
