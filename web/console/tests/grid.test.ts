import { describe, expect, it } from 'vitest'
import { filledFields, missingField, verifyNote, verifyNoteProblem } from '@/lib/grid'

describe('the on-site check form', () => {
  it('lets a pass go without a note', () => {
    expect(verifyNoteProblem(true, '')).toBe(false)
  })
  it('needs a note to fail a result', () => {
    expect(verifyNoteProblem(false, ' ')).toBe(true)
    expect(verifyNoteProblem(false, '仍有噪音')).toBe(false)
  })
  it('sends the note trimmed, or none', () => {
    expect(verifyNote('  ')).toBeNull()
    expect(verifyNote(' 已恢复 ')).toBe('已恢复')
  })
})

describe('reporting on a resident\'s behalf', () => {
  const template = [{ key: 'place', label: 'P', required: true }, { key: 'who', label: 'W' }]
  it('names the first required field left empty', () => {
    expect(missingField(template, { place: '' })?.key).toBe('place')
    expect(missingField(template, { place: 'x' })).toBeNull()
  })
  it('sends only the template fields that were filled in', () => {
    expect(filledFields(template, { place: 'x', who: '', other: 1 })).toEqual({ place: 'x' })
  })
})
