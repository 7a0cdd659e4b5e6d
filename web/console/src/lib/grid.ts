// The grid worker's on-site check: what the form must hold before it is sent.

/** A failed check must say why (two characters or more); a pass may say nothing. */
export function verifyNoteProblem(passed: boolean, note: string): boolean {
  return !passed && note.trim().length < 2
}

/** The note as sent: trimmed, or null when empty. */
export function verifyNote(note: string): string | null {
  return note.trim() || null
}

export interface TemplateFieldLike {
  key: string
  label: string
  required?: boolean
}

/** The first required template field left empty, if any (the API refuses the report then). */
export function missingField(template: readonly TemplateFieldLike[],
                             values: Record<string, unknown>): TemplateFieldLike | null {
  return template.find((f) => f.required && [undefined, null, ''].includes(
    values[f.key] as string | null | undefined)) ?? null
}

/** Only the template's fields, empty ones left out, as the report sends them. */
export function filledFields(template: readonly TemplateFieldLike[],
                             values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(template
    .filter((f) => ![undefined, null, ''].includes(values[f.key] as string | null | undefined))
    .map((f) => [f.key, values[f.key]]))
}
