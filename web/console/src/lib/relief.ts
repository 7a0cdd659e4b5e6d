// What a relief reviewer may do and see on an application: pure rules for the pages.
import { ApiError } from '@/api/errors'
import type { components } from '@/api/schema'
import { t } from '@/i18n/zh-CN'
import { problemText } from '@/lib/problemText'

export type ReliefApplication = components['schemas']['ApplicationRead']
export type ReliefAction = 'accept' | 'review' | 'approve' | 'reject'
export type NoticeState = 'running' | 'ended' | 'skipped' | 'none'

export const JOINT_REVIEWERS: readonly string[] = ['ping_an_office', 'civil_affairs', 'agriculture']
export const REVEALABLE = ['name', 'id_number', 'address', 'household', 'reason'] as const
export type RevealField = (typeof REVEALABLE)[number]
export const REVEAL_REASON_MIN = 4

/** The steps this reviewer's agency takes here: the server's `allowed_actions` say what could
 * happen next (by anyone); the agency decides whose turn it is. Hidden, never disabled. */
export function reviewerActions(app: ReliefApplication, agency: string | null | undefined
): ReliefAction[] {
  if (!agency) return []
  const allowed = new Set(app.allowed_actions)
  const mine: ReliefAction[] = []
  if (agency === 'town' && app.status === 'submitted') mine.push('accept', 'reject')
  if (JOINT_REVIEWERS.includes(agency) && app.status === 'in_review'
      && !app.opinions.some((o) => o.agency === agency)) mine.push('review')
  if (agency === 'civil_affairs' && app.status === 'awaiting_approval') mine.push('approve', 'reject')
  return mine.filter((action) => allowed.has(action))
}

/** Where the public notice stands. A minor's application skips it by law. */
export function noticeState(app: ReliefApplication, now: number): NoticeState {
  if (app.notice_ends_at) {
    return Date.parse(app.notice_ends_at) > now && app.status === 'in_notice' ? 'running' : 'ended'
  }
  if (app.applicant_is_minor && app.status !== 'submitted' && app.status !== 'in_review') {
    return 'skipped'
  }
  return 'none'
}

/** Approval grants a monthly amount only for the monthly kinds (dibao, tekun). */
export function paidMonthly(kind: string): boolean {
  return kind === 'dibao' || kind === 'tekun'
}

/** Yuan typed by a person ("350", "350.5") as fen; null when it is not a positive amount. */
export function yuanToFen(text: string): number | null {
  if (!/^\d{1,6}(\.\d{1,2})?$/.test(text.trim())) return null
  const fen = Math.round(Number(text.trim()) * 100)
  return fen > 0 ? fen : null
}

export function revealReasonOk(reason: string): boolean {
  return reason.trim().length >= REVEAL_REASON_MIN
}

/** A refusal as the reviewer reads it: the relief catalog's words for its code first. */
export function reliefProblem(error: unknown): string {
  return (error instanceof ApiError && t.relief.problems[error.code]) || problemText(error)
}
