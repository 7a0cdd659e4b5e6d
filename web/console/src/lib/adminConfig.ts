// Logic of the admin's configuration pages (categories and templates, routing rules, SLA
// policies, the holiday calendar): who may open them, and the template editor's drafts.
import type { components } from '@/api/schema'
import { t } from '@/i18n/zh-CN'

export type TemplateField = components['schemas']['TemplateFieldSchema']
export type FieldKind = TemplateField['type']
export type CalendarDay = components['schemas']['CalendarDayRead']

export const FIELD_KINDS: readonly FieldKind[] = ['text', 'number', 'choice', 'date', 'phone']
export const LEVELS = ['community', 'town', 'county'] as const
export const URGENCIES = ['urgent', 'normal', 'low'] as const
/** What a routing rule may send a report to: a kind of unit, or the dispatcher to triage it. */
export const RULE_TARGETS: Readonly<Record<string, string>> = {
  ...t.org.unitKinds, dispatcher: t.adminConfig.dispatcherTarget,
}
const KEY = /^[a-z][a-z0-9_]{0,39}$/

/** Only platform admins change configuration; everyone else gets the no-access page. */
export function mayConfigure(roles: ReadonlySet<string>): boolean {
  return roles.has('admin')
}

/** The editor's form of one field: options typed one per line as "code=label" or "label". */
export interface FieldDraft {
  key: string
  label: string
  type: FieldKind
  required: boolean
  options: string
}

export function draftOf(field: TemplateField): FieldDraft {
  const options = (field.options ?? []).map((o) => (o.label === o.code ? o.code : `${o.code}=${o.label}`))
  return { key: field.key, label: field.label, type: field.type, required: !!field.required,
    options: options.join('\n') }
}

/** Options typed one a line; a line without "=" is its own code and label. */
export function parseOptions(text: string): { code: string; label: string }[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const at = line.indexOf('=')
    if (at < 0) return { code: line, label: line }
    return { code: line.slice(0, at).trim(), label: line.slice(at + 1).trim() || line.slice(0, at).trim() }
  })
}

export function fieldOf(draft: FieldDraft): TemplateField {
  const options = draft.type === 'choice' ? parseOptions(draft.options) : []
  return { key: draft.key.trim(), label: draft.label.trim(), type: draft.type,
    required: draft.required, options, choices: options.map((o) => o.code) }
}

export type DraftProblem = 'key' | 'keyTaken' | 'label' | 'options' | null

/** What is wrong with a draft among the template's other fields, before the server says so. */
export function draftProblem(draft: FieldDraft, others: readonly TemplateField[]): DraftProblem {
  if (!KEY.test(draft.key.trim())) return 'key'
  if (others.some((f) => f.key === draft.key.trim())) return 'keyTaken'
  if (!draft.label.trim() || draft.label.trim().length > 60) return 'label'
  if (draft.type === 'choice') {
    const codes = parseOptions(draft.options).map((o) => o.code)
    if (!codes.length || new Set(codes).size !== codes.length) return 'options'
  }
  return null
}

export type CategoryProblem = 'parent' | 'code' | 'codeTaken' | 'name' | null

/** What is wrong with a new sub-category before it is sent: a taken code would overwrite. */
export function categoryProblem(draft: { parent: string; code: string; name: string },
  taken: ReadonlySet<string>): CategoryProblem {
  if (!draft.parent) return 'parent'
  if (!/^[a-z][a-z0-9_]{1,63}$/.test(draft.code.trim())) return 'code'
  if (taken.has(draft.code.trim())) return 'codeTaken'
  if (!draft.name.trim() || draft.name.trim().length > 100) return 'name'
  return null
}

export function emptyDraft(): FieldDraft {
  return { key: '', label: '', type: 'text', required: false, options: '' }
}

/** The calendar days of one month of a year's list, for the month view. */
export function daysOfMonth(days: readonly CalendarDay[], month: number): CalendarDay[] {
  const prefix = `-${String(month).padStart(2, '0')}-`
  return days.filter((d) => d.day.slice(4, 8) === prefix)
}
