import { describe, expect, it } from 'vitest'
import { homeFor, menuFor } from '@/lib/menu'
import { safeRedirect } from '@/lib/redirect'

describe('menu by role', () => {
  it('gives a department clerk the work queue only', () => {
    expect(menuFor(['dept_staff']).map((m) => m.key)).toEqual(['queue'])
  })
  it('gives a staff member with two roles the entries of both, once each', () => {
    const keys = menuFor(['dispatcher', 'supervisor']).map((m) => m.key)
    expect(keys).toEqual(['dispatch', 'supervision', 'command', 'scorecards', 'gridwork'])
  })
  it('lands a clerk on the queue after signing in', () => {
    expect(homeFor(['dept_staff'])).toBe('/queue')
  })
  it('lands an account with no console role on a page that says so', () => {
    expect(homeFor(['resident'])).toBe('/no-role')
  })
  it('never lands anyone on the full-screen command centre', () => {
    expect(homeFor(['admin'])).toBe('/scorecards')
    expect(homeFor(['supervisor'])).toBe('/supervision')
  })
})

describe('return-to-page after sign-in', () => {
  it('returns to a page of the console', () => {
    expect(safeRedirect('/cases/1?tab=x')).toBe('/cases/1?tab=x')
  })
  it('never sends the browser to another site', () => {
    expect(safeRedirect('//evil.example/x')).toBeNull()
    expect(safeRedirect('https://evil.example/')).toBeNull()
    expect(safeRedirect('/\\evil.example/')).toBeNull()
  })
  it('does not return to the sign-in page itself', () => {
    expect(safeRedirect('/login?redirect=/queue')).toBeNull()
  })
})
