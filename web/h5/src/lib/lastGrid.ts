// The grid of the resident's last report, offered again on the next one (most report where they
// live). Forgotten on sign-out with the session.
const LAST_GRID_KEY = 'ehome.h5.last-grid'

export function lastGrid(): string {
  try {
    return localStorage.getItem(LAST_GRID_KEY) ?? ''
  } catch {
    return ''
  }
}

export function rememberGrid(code: string): void {
  localStorage.setItem(LAST_GRID_KEY, code)
}

export function forgetGrid(): void {
  localStorage.removeItem(LAST_GRID_KEY)
}
