// The console's menu: each entry is shown to the roles that work there.
import { t } from '@/i18n/zh-CN'

export interface MenuEntry {
  key: keyof typeof t.menu
  path: string
  roles: readonly string[]
  /** A wall screen outside the shell (no menu): never where someone lands. */
  fullScreen?: boolean
}

export const MENU: readonly MenuEntry[] = [
  { key: 'queue', path: '/queue', roles: ['dept_staff', 'dept_admin'] },
  { key: 'dispatch', path: '/dispatch', roles: ['dispatcher'] },
  { key: 'verification', path: '/verification', roles: ['grid_worker'] },
  { key: 'supervision', path: '/supervision', roles: ['supervisor'] },
  { key: 'command', path: '/command', roles: ['dispatcher', 'supervisor', 'admin'],
    fullScreen: true },
  { key: 'scorecards', path: '/scorecards', roles: ['supervisor', 'admin', 'dept_admin'] },
  { key: 'relief', path: '/relief', roles: ['reviewer'] },
  { key: 'booking', path: '/booking', roles: ['booking_operator'] },
  { key: 'admin', path: '/admin', roles: ['admin'] },
  { key: 'unitStaff', path: '/admin/staff', roles: ['dept_admin'] },
  { key: 'gridwork', path: '/gridwork', roles: ['dispatcher', 'supervisor', 'admin'] },
  { key: 'myFigures', path: '/my-figures', roles: ['grid_worker'] },
]

export function menuFor(roles: Iterable<string>): MenuEntry[] {
  const held = new Set(roles)
  return MENU.filter((entry) => entry.roles.some((role) => held.has(role)))
}

/** Where a staff member lands after signing in without a page to return to: the first page
 * of their menu inside the shell (the command centre's way back leads here, so it must not
 * lead to the command centre again). */
export function homeFor(roles: Iterable<string>): string {
  return menuFor(roles).find((entry) => !entry.fullScreen)?.path ?? '/no-role'
}
