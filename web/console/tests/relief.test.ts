import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/errors'
import { t } from '@/i18n/zh-CN'
import { noticeState, reliefProblem, reviewerActions, revealReasonOk, yuanToFen, type ReliefApplication } from '@/lib/relief'

function app(over: Partial<ReliefApplication> = {}): ReliefApplication {
  return {
    id: 'a1', kind: 'dibao', kind_label: '', status: 'in_review', status_label: '',
    applicant_user_id: 'u', submitted_by: 'u', on_behalf: false, region_code: '350623',
    applicant_name: '', id_number: '', applicant_is_minor: false, household_size: 1,
    household_source: 'registry', household_source_label: '', reason: '', attachments_count: 0,
    opinions: [], open_objections: 0, notice_ends_at: null, approval_due_at: null,
    approval_overdue: false, decision: null, payments: 0, submitted_at: '2026-12-01T00:00:00Z',
    allowed_actions: ['review', 'withdraw'], action_labels: {}, ...over,
  } as ReliefApplication
}

describe('what a relief reviewer may do', () => {
  it('lets each joint reviewer give one opinion while the review runs', () => {
    expect(reviewerActions(app(), 'agriculture')).toEqual(['review'])
    const given = app({ opinions: [{ agency: 'agriculture', agency_label: '', approve: true,
      opinion: '', reviewed_at: '2026-12-01T00:00:00Z' }] })
    expect(reviewerActions(given, 'agriculture')).toEqual([])
    expect(reviewerActions(given, 'ping_an_office')).toEqual(['review'])
  })
  it('leaves acceptance to the town and approval to civil affairs', () => {
    const submitted = app({ status: 'submitted', allowed_actions: ['accept', 'reject', 'withdraw'] })
    expect(reviewerActions(submitted, 'town')).toEqual(['accept', 'reject'])
    expect(reviewerActions(submitted, 'civil_affairs')).toEqual([])
    const awaiting = app({ status: 'awaiting_approval', allowed_actions: ['approve', 'reject'] })
    expect(reviewerActions(awaiting, 'civil_affairs')).toEqual(['approve', 'reject'])
    expect(reviewerActions(awaiting, 'town')).toEqual([])
  })
  it('shows nothing the server no longer allows, or without an agency', () => {
    const objected = app({ status: 'awaiting_approval', allowed_actions: ['resolve_objection'] })
    expect(reviewerActions(objected, 'civil_affairs')).toEqual([])
    expect(reviewerActions(app(), null)).toEqual([])
  })
})

describe('the notice (公示) state', () => {
  const now = Date.parse('2026-12-06T00:00:00Z')
  it('runs until its end, then waits for approval', () => {
    expect(noticeState(app({ status: 'in_notice', notice_ends_at: '2026-12-10T00:00:00Z' }), now))
      .toBe('running')
    expect(noticeState(app({ status: 'in_notice', notice_ends_at: '2026-12-01T00:00:00Z' }), now))
      .toBe('ended')
  })
  it('is skipped for a minor and not yet there during the review', () => {
    expect(noticeState(app({ status: 'awaiting_approval', applicant_is_minor: true }), now))
      .toBe('skipped')
    expect(noticeState(app(), now)).toBe('none')
  })
})

describe('typed amounts and reasons', () => {
  it('reads yuan as fen and refuses nonsense', () => {
    expect(yuanToFen('350')).toBe(35000)
    expect(yuanToFen('12.5')).toBe(1250)
    expect(yuanToFen('0')).toBeNull()
    expect(yuanToFen('abc')).toBeNull()
  })
  it('wants a reveal reason of four characters at least', () => {
    expect(revealReasonOk(' abc ')).toBe(false)
    expect(revealReasonOk('核对户籍')).toBe(true)
  })
})

describe('relief refusals', () => {
  it('reads relief codes from its own catalog, others from the shared one', () => {
    expect(reliefProblem(new ApiError(409, { code: 'already_reviewed' })))
      .toBe(t.relief.problems.already_reviewed)
    expect(reliefProblem(new ApiError(429, { code: 'rate_limited' }))).toBe(t.problems.rate_limited)
  })
})
