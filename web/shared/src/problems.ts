// Problem+json answers as one typed error, so callers branch on the stable `code`.

/** The gateway's and every service's error document (application/problem+json). */
export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  request_id?: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly problem: Partial<Problem>

  constructor(status: number, problem: Partial<Problem>) {
    super(problem.detail || problem.title || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = problem.code ?? `http_${status}`
    this.detail = problem.detail ?? ''
    this.problem = problem
  }
}

/** The error a failed answer stands for: its problem document when it has one. */
export function toApiError(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') return new ApiError(status, body as Partial<Problem>)
  return new ApiError(status, { status, title: typeof body === 'string' ? body : '' })
}

/** The 401 codes after which one refresh is worth trying; any other 401 ends the session. */
export const REFRESHABLE_CODES: ReadonlySet<string> = new Set(['token_expired'])
