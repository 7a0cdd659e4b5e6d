import { describe, expect, it } from 'vitest'
import {
  categoryProblem, daysOfMonth, draftOf, draftProblem, emptyDraft, fieldOf, mayConfigure, parseOptions,
} from '@/lib/adminConfig'

describe('who configures the platform', () => {
  it('is the platform admin only', () => {
    expect(mayConfigure(new Set(['admin']))).toBe(true)
    expect(mayConfigure(new Set(['dept_admin', 'supervisor']))).toBe(false)
  })
})

describe('the template field editor', () => {
  it('reads options one a line, with or without a label', () => {
    expect(parseOptions(' a=甲\n\nb\n c = 丙 ')).toEqual([
      { code: 'a', label: '甲' }, { code: 'b', label: 'b' }, { code: 'c', label: '丙' }])
  })
  it('sends options only for a choice, and round-trips a stored field', () => {
    const draft = { ...emptyDraft(), key: 'floor', label: '楼层', options: 'x=1' }
    expect(fieldOf(draft)).toEqual({ key: 'floor', label: '楼层', type: 'text', required: false,
      options: [], choices: [] })
    const choice = fieldOf({ ...draft, type: 'choice', required: true, options: 'low=低\nhigh' })
    expect(draftOf(choice)).toEqual({ key: 'floor', label: '楼层', type: 'choice', required: true,
      options: 'low=低\nhigh' })
  })
  it('names what is wrong with a draft', () => {
    const others = [{ key: 'floor', label: '楼层', type: 'text' as const, required: false,
      options: [], choices: [] }]
    const ok = { ...emptyDraft(), key: 'size', label: '面积' }
    expect(draftProblem(ok, others)).toBeNull()
    expect(draftProblem({ ...ok, key: 'Size' }, others)).toBe('key')
    expect(draftProblem({ ...ok, key: 'floor' }, others)).toBe('keyTaken')
    expect(draftProblem({ ...ok, label: ' ' }, others)).toBe('label')
    expect(draftProblem({ ...ok, type: 'choice', options: '' }, others)).toBe('options')
    expect(draftProblem({ ...ok, type: 'choice', options: 'a\na=甲' }, others)).toBe('options')
  })
})

describe('a new sub-category', () => {
  it('needs a parent, a free well-formed code and a name', () => {
    const taken = new Set(['dispute_land'])
    const ok = { parent: 'social_conflict', code: 'dispute_dowry', name: '彩礼纠纷' }
    expect(categoryProblem(ok, taken)).toBeNull()
    expect(categoryProblem({ ...ok, parent: '' }, taken)).toBe('parent')
    expect(categoryProblem({ ...ok, code: 'Dowry' }, taken)).toBe('code')
    expect(categoryProblem({ ...ok, code: 'dispute_land' }, taken)).toBe('codeTaken')
    expect(categoryProblem({ ...ok, name: '  ' }, taken)).toBe('name')
  })
})

describe('the holiday calendar', () => {
  it('picks the days of one month', () => {
    const day = (d: string) => ({ day: d, workday: false, source: 'official' as const,
      holiday: null, note: null })
    expect(daysOfMonth([day('2026-10-01'), day('2026-01-10'), day('2026-10-31')], 10)
      .map((d) => d.day)).toEqual(['2026-10-01', '2026-10-31'])
  })
})
