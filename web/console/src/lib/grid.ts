// The grid worker's on-site check: what the form must hold before it is sent.

/** A failed check must say why (two characters or more); a pass may say nothing. */
export function verifyNoteProblem(passed: boolean, note: string): boolean {
  return !passed && note.trim().length < 2
}

/** The note as sent: trimmed, or null when empty. */
export function verifyNote(note: string): string | null {
  return note.trim() || null
}
