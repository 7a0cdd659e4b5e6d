// Which actions the case page offers: the events state machine (services/events/domain.py
// TRANSITIONS) for the case's status, for a member of the unit that holds it. Anything else is
// not rendered at all; the API still refuses whatever the page would get wrong.
export type CaseAction = 'accept' | 'return' | 'start' | 'submitResult' | 'extend' | 'coHandle'

export const UNIT_ROLES: ReadonlySet<string> = new Set(['dept_staff', 'dept_admin'])

/** Case statuses in which the holding unit is still handling the case (domain HANDLING). */
export const HANDLING: ReadonlySet<string> = new Set(['dispatched', 'accepted', 'in_progress'])

const BY_STATUS: Record<string, readonly CaseAction[]> = {
  dispatched: ['accept', 'return', 'extend', 'coHandle'],
  accepted: ['start', 'submitResult', 'return', 'extend', 'coHandle'],
  in_progress: ['submitResult', 'extend', 'coHandle'],
}

export interface CaseFacts {
  status: string
  assignee?: { unit_id: string } | null
}

export interface Actor {
  roles: readonly string[]
  departments?: readonly string[]
}

export function allowedActions(event: CaseFacts, actor: Actor): CaseAction[] {
  const unitId = event.assignee?.unit_id
  if (!unitId || !actor.roles.some((r) => UNIT_ROLES.has(r))) return []
  if (!(actor.departments ?? []).includes(unitId)) return []
  return [...(BY_STATUS[event.status] ?? [])]
}
