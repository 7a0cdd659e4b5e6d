import { describe, expect, it } from 'vitest'
import { keywordProblem, searchQuery } from '@/lib/queue'
import { nextDay, shanghaiDayStart } from '@/lib/time'

const UNIT = 'u-1'
const opts = { shanghaiStart: shanghaiDayStart, nextDay }

describe('work queue tabs as search filters', () => {
  it('lists new cases as the unit’s dispatched ones, newest first', () => {
    expect(searchQuery('new', UNIT, {}, opts)).toEqual(
      { unit: UNIT, status: ['dispatched'], sort: 'reported', limit: 20 })
  })
  it('lists due-soon cases still in time, soonest deadline first', () => {
    expect(searchQuery('due_soon', UNIT, {}, opts)).toMatchObject(
      { status: ['dispatched', 'accepted', 'in_progress'], overdue: false, sort: 'deadline' })
  })
  it('lists overdue cases past their deadline', () => {
    expect(searchQuery('overdue', UNIT, {}, opts)).toMatchObject({ overdue: true, sort: 'deadline' })
  })
  it('turns a Beijing date range into an instant range with an exclusive end', () => {
    const q = searchQuery('accepted', UNIT, { dateFrom: '2026-12-01', dateTo: '2026-12-06' }, opts)
    expect(q.reported_from).toBe('2026-11-30T16:00:00.000Z')
    expect(q.reported_to).toBe('2026-12-06T16:00:00.000Z')
  })
  it('sends typed filters trimmed and leaves empty ones out', () => {
    const q = searchQuery('in_progress', UNIT, { q: '  井盖 ', case_no: ' ', urgency: [] }, { ...opts, cursor: 'c1' })
    expect(q).toEqual({ unit: UNIT, status: ['in_progress'], sort: 'reported', limit: 20, q: '井盖', cursor: 'c1' })
  })
  it('refuses a one-character keyword before asking the server', () => {
    expect(keywordProblem(' 井 ')).toBe(true)
    expect(keywordProblem('井盖')).toBe(false)
    expect(keywordProblem('')).toBe(false)
  })
})
