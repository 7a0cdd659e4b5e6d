// Dates and deadlines as the staff read them: in Asia/Shanghai whatever the browser's zone.
import { t } from '@/i18n/zh-CN'

export const TIME_ZONE = 'Asia/Shanghai'

const dateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', hour12: false,
})

/** "2026-12-06 15:04" in Beijing time. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return ''
  const parts = Object.fromEntries(
    dateTime.formatToParts(new Date(iso)).map((p) => [p.type, p.value]),
  ) as Record<string, string>
  const hour = parts.hour === '24' ? '00' : parts.hour
  return `${parts.year}-${parts.month}-${parts.day} ${hour}:${parts.minute}`
}

/** The UTC instant at which a Beijing calendar day ("2026-12-06") starts. */
export function shanghaiDayStart(day: string): string {
  return new Date(`${day}T00:00:00+08:00`).toISOString()
}

/** The Beijing calendar day after `day` (the exclusive end of a date range). */
export function nextDay(day: string): string {
  const d = new Date(`${day}T12:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

export interface Countdown {
  overdue: boolean
  text: string
  /** Milliseconds left (negative once past). */
  remainingMs: number
}

/** A deadline as a countdown in days and hours (or hours and minutes) left, or how long ago
 * it passed. Two units are enough to act on; more would be noise. */
export function countdown(deadlineIso: string, nowMs: number): Countdown {
  const remainingMs = new Date(deadlineIso).getTime() - nowMs
  const span = formatSpan(Math.abs(remainingMs))
  const overdue = remainingMs < 0
  return { overdue, remainingMs, text: overdue ? t.time.overdueBy(span) : t.time.left(span) }
}

export function formatSpan(ms: number): string {
  const minutesTotal = Math.floor(ms / 60_000)
  if (minutesTotal < 1) return t.time.lessThanMinute
  const days = Math.floor(minutesTotal / 1440)
  const hours = Math.floor((minutesTotal % 1440) / 60)
  const minutes = minutesTotal % 60
  if (days > 0) return t.time.days(days) + (hours > 0 ? t.time.hours(hours) : '')
  if (hours > 0) return t.time.hours(hours) + (minutes > 0 ? t.time.minutes(minutes) : '')
  return t.time.minutes(minutes)
}
