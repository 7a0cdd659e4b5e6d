// What a refusal says to the staff member: the catalog's Chinese for its code. The server's
// `detail` is English for developers and never shown.
import { ApiError } from '@/api/errors'
import { t } from '@/i18n/zh-CN'

export function problemText(error: unknown): string {
  if (!(error instanceof ApiError)) return t.app.networkError
  const known = t.problems[error.code]
  if (known) return known
  if (error.status >= 500) return t.problems.service_unavailable ?? t.app.unknownError
  return t.withCode(t.app.unknownError, error.code)
}
