// Logic of the admin pages that is worth a unit test: who may open which page, which roles a
// manager may grant, refusals in words, import progress, and the registry rates as percentages.
import { ApiError } from '@/api/errors'
import { t } from '@/i18n/zh-CN'
import { problemText } from '@/lib/problemText'

/** Roles the admin grants; a department admin may grant only the first two. */
export const STAFF_ROLES = [
  'dept_staff', 'dept_admin', 'grid_worker', 'dispatcher', 'supervisor', 'reviewer',
  'booking_operator', 'admin',
] as const
export const UNIT_ROLES = ['dept_staff', 'dept_admin'] as const

export type AdminPage = 'home' | 'org' | 'staff' | 'partners' | 'registry'

/** Every admin page is the admin's; a department admin manages their own unit's staff. */
export function mayOpen(page: AdminPage, roles: ReadonlySet<string>): boolean {
  if (roles.has('admin')) return true
  return page === 'staff' && roles.has('dept_admin')
}

/** The roles the caller may grant on the staff page. */
export function grantableRoles(roles: ReadonlySet<string>): readonly string[] {
  return roles.has('admin') ? STAFF_ROLES : UNIT_ROLES
}

/** A refusal in the admin's words, falling back to the console's common catalog. */
export function adminProblemText(error: unknown): string {
  if (error instanceof ApiError) {
    const known = t.admin.problems[error.code]
    if (known) return known
  }
  return problemText(error)
}

/** A refused import row's reason: its code in words, or the code itself when unknown. */
export function rowReason(code: string): string {
  return t.admin.rowCodes[code] ?? code
}

export interface ImportProgress {
  status: string
  total_rows: number | null
  rows_done: number
}

/** Percentage for the progress bar: unknown totals show 0 until counted, done shows 100. */
export function importPercent(job: ImportProgress): number {
  if (job.status === 'succeeded') return 100
  if (!job.total_rows) return 0
  return Math.min(100, Math.floor((job.rows_done * 100) / job.total_rows))
}

/** An import still moving: the page keeps polling it. */
export function importRunning(job: { status: string }): boolean {
  return job.status === 'queued' || job.status === 'reading' || job.status === 'writing'
}

/** A rate (already a percentage, truncated to two decimals by identity; null where the census
 * population is not set) as the 2023 report prints it. */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return t.admin.registry.notSet
  return `${rate.toFixed(2)}%`
}

/** Comma- or whitespace-separated host names, trimmed, empty ones dropped, once each. */
export function splitList(text: string): string[] {
  return [...new Set(text.split(/[\s,\uff0c\u3001]+/).map((s) => s.trim()).filter(Boolean))]
}
