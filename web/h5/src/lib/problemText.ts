// What the resident reads for a failure: the catalog's words for a known code, else the
// server's own detail, else a generic sentence.
import { ApiError } from '@/api/errors'
import { t } from '@/i18n/zh-CN'

export function codeText(code: string | null | undefined): string {
  return (code && t.problems[code]) || code || t.app.unknownError
}

export function problemText(error: unknown): string {
  if (error instanceof ApiError) return t.problems[error.code] ?? (error.detail || t.app.unknownError)
  if (error instanceof TypeError) return t.app.notFetched
  return t.app.unknownError
}
