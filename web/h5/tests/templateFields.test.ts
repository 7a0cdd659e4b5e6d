// The report's template fields: what the resident typed becomes the value the events API takes,
// and a field the API would refuse stops the report before anything is sent.
import { describe, expect, it } from 'vitest'
import type { TemplateField } from '../src/api/resident'
import { blankDrafts, choiceLabel, choicesOf, fieldValues } from '../src/lib/templateFields'

type Given = Pick<TemplateField, 'key' | 'label' | 'type'> & Partial<TemplateField>
/** A field as the API sends it (the defaults the server fills in, unless given). */
const field = (given: Given): TemplateField => ({ required: false, choices: [], options: [], ...given })

const employer = field({ key: 'employer', label: 'Employer', type: 'text', required: true })
const amount = field({ key: 'unpaid_amount', label: 'Amount', type: 'number' })
const role = field({ key: 'party_role', label: 'Role', type: 'choice', required: true,
  choices: ['landlord', 'tenant'], options: [{ code: 'landlord', label: 'L' }, { code: 'tenant', label: 'T' }] })
const bought = field({ key: 'purchase_date', label: 'Bought', type: 'date' })
const phone = field({ key: 'contact', label: 'Phone', type: 'phone' })
const template = [employer, amount, role, bought, phone]

describe('template fields to report values', () => {
  it('starts every field of a picked category empty', () => {
    expect(blankDrafts(template)).toEqual(
      { employer: '', unpaid_amount: '', party_role: '', purchase_date: '', contact: '' })
  })

  it('sends each filled field as its kind: text trimmed, a number, a code, a date, a phone', () => {
    const drafts = { employer: '  Acme Works ', unpaid_amount: '12000.5', party_role: 'tenant',
      purchase_date: '2026-11-30', contact: '139 0000 1111' }
    expect(fieldValues(template, drafts)).toEqual({ problem: null, fields: {
      employer: 'Acme Works', unpaid_amount: 12000.5, party_role: 'tenant',
      purchase_date: '2026-11-30', contact: '13900001111' } })
  })

  it('leaves out optional fields left empty', () => {
    const drafts = { ...blankDrafts(template), employer: 'Acme', party_role: 'landlord' }
    expect(fieldValues(template, drafts)).toEqual(
      { problem: null, fields: { employer: 'Acme', party_role: 'landlord' } })
  })

  it('stops at a required field left empty or blank, naming it', () => {
    expect(fieldValues(template, { employer: '   ', party_role: 'tenant' }).problem)
      .toEqual({ key: 'employer', label: 'Employer', kind: 'missing' })
    expect(fieldValues(template, { employer: 'Acme' }).problem)
      .toEqual({ key: 'party_role', label: 'Role', kind: 'missing' })
  })

  it.each([
    ['unpaid_amount', 'twelve'], ['party_role', 'owner'], ['purchase_date', '30/11/2026'],
    ['purchase_date', '2026-13-45'], ['purchase_date', '2026-02-30'], ['contact', '12345'],
  ])('stops at %s = %s, which the server would refuse', (key, draft) => {
    const drafts = { employer: 'Acme', party_role: 'tenant', [key]: draft }
    expect(fieldValues(template, drafts)).toEqual(
      { fields: {}, problem: { key, label: template.find((f) => f.key === key)!.label, kind: 'invalid' } })
  })

  it('accepts a landline as the server does', () => {
    expect(fieldValues([phone], { contact: '0596-2345678' }).fields).toEqual({ contact: '0596-2345678' })
  })

  it('shows a choice by its label and falls back to codes when a field has no labels', () => {
    expect(choiceLabel(role, 'tenant')).toBe('T')
    const bare = field({ key: 'k', label: 'K', type: 'choice', choices: ['a', 'b'] })
    expect(choicesOf(bare)).toEqual([{ code: 'a', label: 'a' }, { code: 'b', label: 'b' }])
    expect(choiceLabel(bare, 'b')).toBe('b')
  })
})
