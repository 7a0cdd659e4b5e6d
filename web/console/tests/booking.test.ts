import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/errors'
import { bookingProblem, cleanCode, codeComplete, minimumQuota, scanSupported, type RoundStats } from '@/lib/booking'
import { t } from '@/i18n/zh-CN'

describe('booking refusals', () => {
  it('says when a code was already used, in Beijing time', () => {
    const error = new ApiError(409, { code: 'already_redeemed', redeemed_at: '2026-12-06T02:05:00+00:00' } as never)
    expect(bookingProblem(error)).toBe(t.booking.alreadyRedeemed('2026-12-06 10:05'))
  })
  it('reads other codes from the catalog, and unknown ones generically', () => {
    expect(bookingProblem(new ApiError(409, { code: 'wrong_pickup_point' })))
      .toBe(t.booking.problems.wrong_pickup_point)
    expect(bookingProblem(new ApiError(400, { code: 'mystery' }))).toContain('mystery')
  })
})

describe('pickup codes and the scanner', () => {
  it('drops what people add while reading a code out', () => {
    expect(cleanCode(' ABCD-EFGH 1234 ')).toBe('ABCDEFGH1234')
    expect(codeComplete('ABCDEFGH12')).toBe(true)
    expect(codeComplete('ABC')).toBe(false)
  })
  it('scans only with both BarcodeDetector and a camera', () => {
    const camera = { mediaDevices: { getUserMedia: () => undefined } }
    expect(scanSupported({ BarcodeDetector: class {}, navigator: camera })).toBe(true)
    expect(scanSupported({ navigator: camera })).toBe(false)
    expect(scanSupported({ BarcodeDetector: class {}, navigator: {} })).toBe(false)
  })
  it('never offers a quota below what is booked', () => {
    const stats = { points: [{ pickup_point_id: 'p', booked: 7 }] } as unknown as RoundStats
    expect(minimumQuota(stats, 'p')).toBe(7)
    expect(minimumQuota(stats, 'q')).toBe(0)
  })
})
