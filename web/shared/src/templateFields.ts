// A category's template fields as the report form fills them: each is kept as the text the
// person typed or picked (a draft), and turned into the value the events API takes only on
// submit, with the same rules it applies (a required field missing, a number that is not one,
// a date or phone in the wrong shape), so the person learns what to fix before anything is sent.
import type { TemplateField } from './catalog'

export type Drafts = Record<string, string>
export type FieldValue = string | number

export interface FieldProblem { key: string; label: string; kind: 'missing' | 'invalid' }

// The server's pattern (services/events/domain.py): a mobile number or a landline.
const PHONE = /^(1[0-9]{10}|0[0-9]{2,3}-?[0-9]{7,8})$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

/** One empty draft per field of the template (a category just picked). */
export function blankDrafts(template: readonly TemplateField[]): Drafts {
  return Object.fromEntries(template.map((field) => [field.key, '']))
}

/** The choices of a field as (code, label) pairs: ``options`` when given, else the codes. */
export function choicesOf(field: TemplateField): { code: string; label: string }[] {
  if (field.options?.length) return field.options
  return (field.choices ?? []).map((code) => ({ code, label: code }))
}

function isCalendarDay(text: string): boolean {
  const day = new Date(`${text}T00:00:00Z`)
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text
}

function valueOf(field: TemplateField, draft: string): FieldValue | undefined {
  const text = draft.trim()
  switch (field.type) {
    case 'number': {
      const number = Number(text)
      return text && Number.isFinite(number) ? number : undefined
    }
    case 'phone': {
      const phone = text.replace(/\s+/g, '')
      return PHONE.test(phone) ? phone : undefined
    }
    case 'date':
      return DATE.test(text) && isCalendarDay(text) ? text : undefined
    case 'choice':
      return choicesOf(field).some((choice) => choice.code === text) ? text : undefined
    default:
      return text
  }
}

/** The ``fields`` of a report from the drafts, or the first field that stops it. Empty
 * optional fields are left out (the server stores nothing for them). */
export function fieldValues(
  template: readonly TemplateField[], drafts: Drafts,
): { fields: Record<string, FieldValue>; problem: FieldProblem | null } {
  const fields: Record<string, FieldValue> = {}
  for (const field of template) {
    const draft = drafts[field.key] ?? ''
    if (!draft.trim()) {
      if (field.required) return { fields: {}, problem: { key: field.key, label: field.label, kind: 'missing' } }
      continue
    }
    const value = valueOf(field, draft)
    if (value === undefined) return { fields: {}, problem: { key: field.key, label: field.label, kind: 'invalid' } }
    fields[field.key] = value
  }
  return { fields, problem: null }
}

/** The label shown for a choice's code (the person picked by label, the API takes the code). */
export function choiceLabel(field: TemplateField, code: string): string {
  return choicesOf(field).find((choice) => choice.code === code)?.label ?? code
}
