import { describe, expect, it } from 'vitest'
import { enoughText, mayIssue, mayReply, mayReveal, replyByProblem } from '@/lib/supervision'

describe('the supervision card', () => {
  const order = { status: 'open', unit_id: 'u1' }
  it('lets staff of the supervised unit reply while the order awaits its reply', () => {
    expect(mayReply(order, ['u1'])).toBe(true)
    expect(mayReply({ ...order, status: 'overdue' }, ['u1'])).toBe(true)
  })
  it('hides the reply from other units and once answered', () => {
    expect(mayReply(order, ['u2'])).toBe(false)
    expect(mayReply({ ...order, status: 'replied' }, ['u1'])).toBe(false)
  })
  it('lets supervisors issue orders on cases still being handled only', () => {
    expect(mayIssue(new Set(['supervisor']), 'accepted')).toBe(true)
    expect(mayIssue(new Set(['supervisor']), 'closed')).toBe(false)
    expect(mayIssue(new Set(['dept_staff']), 'accepted')).toBe(false)
  })
  it('offers the reporter reveal to supervisors on sensitive cases only', () => {
    expect(mayReveal(new Set(['supervisor']), true)).toBe(true)
    expect(mayReveal(new Set(['supervisor']), false)).toBe(false)
    expect(mayReveal(new Set(['dispatcher']), true)).toBe(false)
  })
  it('refuses a one-character text and a reply-by not after now', () => {
    expect(enoughText(' 快 ')).toBeNull()
    expect(enoughText(' 请三日内答复 ')).toBe('请三日内答复')
    const now = new Date('2026-12-06T08:00:00Z')
    expect(replyByProblem(null, now)).toBe(true)
    expect(replyByProblem(new Date('2026-12-06T07:00:00Z'), now)).toBe(true)
    expect(replyByProblem(new Date('2026-12-07T08:00:00Z'), now)).toBe(false)
  })
})
