import { describe, expect, it } from 'vitest'
import { verifyNote, verifyNoteProblem } from '@/lib/grid'

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
