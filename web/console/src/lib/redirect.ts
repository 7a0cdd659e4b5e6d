// The page to return to after signing in: only a path inside the console, never another site.
export function safeRedirect(value: unknown): string | null {
  if (typeof value !== 'string' || !value.startsWith('/') || /^\/[\/\\]/.test(value)) return null
  if (value.startsWith('/login')) return null
  return value
}
