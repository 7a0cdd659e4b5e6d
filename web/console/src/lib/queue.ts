// The work queue's tabs as staff-search filters over the clerk's unit. "Due soon" lists the
// unit's cases still within their deadline, soonest first; "overdue" those past it.
export type QueueTab = 'new' | 'accepted' | 'in_progress' | 'due_soon' | 'overdue' | 'assisting'
export const QUEUE_TABS: readonly QueueTab[] = [
  'new', 'accepted', 'in_progress', 'due_soon', 'overdue', 'assisting',
]

export type CaseStatus =
  | 'reported' | 'rejected' | 'dispatched' | 'accepted' | 'in_progress' | 'result_submitted'
  | 'verified' | 'closed' | 'rated' | 'returned'

export interface SearchFilters {
  q?: string
  case_no?: string
  category?: string
  urgency?: ('urgent' | 'normal' | 'low')[]
  /** Beijing calendar days, inclusive. */
  dateFrom?: string
  dateTo?: string
}

export interface SearchQuery {
  unit: string
  status?: CaseStatus[]
  overdue?: boolean
  sort: 'reported' | 'deadline' | 'changed'
  q?: string
  case_no?: string
  category?: string
  urgency?: ('urgent' | 'normal' | 'low')[]
  reported_from?: string
  reported_to?: string
  limit: number
  cursor?: string
}

const HANDLING: CaseStatus[] = ['dispatched', 'accepted', 'in_progress']

function tabPart(tab: Exclude<QueueTab, 'assisting'>): Pick<SearchQuery, 'status' | 'overdue' | 'sort'> {
  switch (tab) {
    case 'new': return { status: ['dispatched'], sort: 'reported' }
    case 'accepted': return { status: ['accepted'], sort: 'reported' }
    case 'in_progress': return { status: ['in_progress'], sort: 'reported' }
    case 'due_soon': return { status: HANDLING, overdue: false, sort: 'deadline' }
    case 'overdue': return { status: HANDLING, overdue: true, sort: 'deadline' }
  }
}

/** The search query for a tab, the filters typed in and a page position. */
export function searchQuery(
  tab: Exclude<QueueTab, 'assisting'>, unit: string, filters: SearchFilters,
  opts: { limit?: number; cursor?: string | null; shanghaiStart: (day: string) => string;
    nextDay: (day: string) => string },
): SearchQuery {
  const query: SearchQuery = { unit, ...tabPart(tab), limit: opts.limit ?? 20 }
  const q = filters.q?.trim()
  if (q) query.q = q
  const caseNo = filters.case_no?.trim()
  if (caseNo) query.case_no = caseNo
  if (filters.category) query.category = filters.category
  if (filters.urgency?.length) query.urgency = [...filters.urgency]
  if (filters.dateFrom) query.reported_from = opts.shanghaiStart(filters.dateFrom)
  if (filters.dateTo) query.reported_to = opts.shanghaiStart(opts.nextDay(filters.dateTo))
  if (opts.cursor) query.cursor = opts.cursor
  return query
}

/** The keyword is sent only once it is long enough for the index (two characters). */
export function keywordProblem(q: string | undefined): boolean {
  const trimmed = q?.trim() ?? ''
  return trimmed.length === 1
}
