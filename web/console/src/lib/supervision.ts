// The supervisor's board and the case page's supervision card: who may do what, and the tabs.
export type BoardTab = 'overdue' | 'dueSoon' | 'supervised' | 'escalated'
export const BOARD_TABS: readonly BoardTab[] = ['overdue', 'dueSoon', 'supervised', 'escalated']
export type OrderLevel = 'reminder' | 'supervision' | 'listed'
export const ORDER_LEVELS: readonly OrderLevel[] = ['reminder', 'supervision', 'listed']

/** Cases still with a unit (the statuses a supervisor can press on). */
export const HANDLING_STATUSES = ['dispatched', 'accepted', 'in_progress'] as const

export interface OrderFacts {
  status: string
  unit_id: string
}

/** Staff of the supervised unit answer an order that still awaits its reply. */
export function mayReply(order: OrderFacts, departments: readonly string[]): boolean {
  return (order.status === 'open' || order.status === 'overdue') && departments.includes(order.unit_id)
}

/** Supervisors (and admins) issue orders on a case a unit is handling. */
export function mayIssue(roles: ReadonlySet<string>, caseStatus: string): boolean {
  return (roles.has('supervisor') || roles.has('admin'))
    && (HANDLING_STATUSES as readonly string[]).includes(caseStatus)
}

/** Supervisors (and admins) may reveal who reported a sensitive case. */
export function mayReveal(roles: ReadonlySet<string>, sensitive: boolean): boolean {
  return sensitive && (roles.has('supervisor') || roles.has('admin'))
}

/** Text the API accepts (two characters or more), trimmed; null otherwise. */
export function enoughText(text: string): string | null {
  const trimmed = text.trim()
  return trimmed.length >= 2 ? trimmed : null
}

/** A reply-by the API accepts: a time after now. */
export function replyByProblem(replyBy: Date | null, now: Date): boolean {
  return replyBy === null || replyBy.getTime() <= now.getTime()
}
