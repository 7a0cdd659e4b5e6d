import { describe, expect, it } from 'vitest'
import { allowedActions } from '@/lib/caseActions'

const UNIT = '11111111-1111-1111-1111-111111111111'
const clerk = { roles: ['dept_staff'], departments: [UNIT] }
const held = (status: string) => ({ status, assignee: { unit_id: UNIT } })

describe('case page actions follow the state machine', () => {
  it('offers accept and return on a newly dispatched case, not start or result', () => {
    expect(allowedActions(held('dispatched'), clerk)).toEqual(['accept', 'return', 'extend', 'coHandle'])
  })
  it('offers start and result once accepted', () => {
    expect(allowedActions(held('accepted'), clerk)).toEqual(
      ['start', 'submitResult', 'return', 'extend', 'coHandle'])
  })
  it('no longer offers return once handling started', () => {
    expect(allowedActions(held('in_progress'), clerk)).not.toContain('return')
  })
  it('offers nothing once a result is submitted', () => {
    expect(allowedActions(held('result_submitted'), clerk)).toEqual([])
  })
  it('offers nothing to a clerk of another unit', () => {
    expect(allowedActions(held('dispatched'), { roles: ['dept_staff'], departments: ['x'] })).toEqual([])
  })
  it('offers nothing to a role that does not handle cases for a unit', () => {
    expect(allowedActions(held('dispatched'), { roles: ['supervisor'], departments: [UNIT] })).toEqual([])
  })
})
