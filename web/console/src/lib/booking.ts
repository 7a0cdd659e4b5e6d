// Booking operators' pages: refusals in Chinese, pickup codes, and the camera scanner's test.
import { ApiError } from '@/api/errors'
import type { components } from '@/api/schema'
import { t } from '@/i18n/zh-CN'
import { problemText } from '@/lib/problemText'
import { formatDateTime } from '@/lib/time'

export type Round = components['schemas']['RoundRead']
export type RoundStats = components['schemas']['RoundStats']
export type Redemption = components['schemas']['RedemptionRead']

/** A refusal as the operator reads it; a second redemption says when the code was used. */
export function bookingProblem(error: unknown): string {
  if (error instanceof ApiError) {
    const at = (error.problem as { redeemed_at?: unknown }).redeemed_at
    if (error.code === 'already_redeemed' && typeof at === 'string') {
      return t.booking.alreadyRedeemed(formatDateTime(at))
    }
    const known = t.booking.problems[error.code]
    if (known) return known
  }
  return problemText(error)
}

/** A code as typed or scanned: spaces and dashes people add while reading it out go. */
export function cleanCode(raw: string): string {
  return raw.replace(/[\s-]+/g, '')
}

/** Long enough for the server to judge (it checks the signature). */
export function codeComplete(code: string): boolean {
  return code.length >= 10 && code.length <= 80
}

interface ScanHost {
  BarcodeDetector?: unknown
  navigator?: { mediaDevices?: { getUserMedia?: unknown } }
}

/** A camera scan needs both the BarcodeDetector and getUserMedia; typing always works. */
export function scanSupported(host: ScanHost): boolean {
  return typeof host.BarcodeDetector === 'function'
    && typeof host.navigator?.mediaDevices?.getUserMedia === 'function'
}

/** The lowest quota a pickup point may be given: what is already booked there. */
export function minimumQuota(stats: RoundStats | null, pointId: string): number {
  return stats?.points.find((p) => p.pickup_point_id === pointId)?.booked ?? 0
}
