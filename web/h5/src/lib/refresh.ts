// When to renew the access token: early enough that a request never carries an expired one,
// late enough not to hammer identity. A fifth of the lifetime ahead, at least 10 s and at most
// 2 min ahead, never sooner than 5 s from now.
export function refreshDelayMs(expiresInSeconds: number): number {
  const lifetimeMs = Math.max(0, expiresInSeconds) * 1000
  const margin = Math.min(120_000, Math.max(10_000, lifetimeMs / 5))
  return Math.max(5_000, lifetimeMs - margin)
}
