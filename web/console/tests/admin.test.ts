import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/errors'
import {
  adminProblemText, grantableRoles, importPercent, importRunning, mayOpen, percent, rowReason,
  splitList,
} from '@/lib/admin'
import { t } from '@/i18n/zh-CN'
import { menuFor } from '@/lib/menu'

describe('who opens the admin pages', () => {
  it('lets the admin open every page', () => {
    const admin = new Set(['admin'])
    for (const page of ['home', 'org', 'staff', 'partners', 'registry'] as const) {
      expect(mayOpen(page, admin)).toBe(true)
    }
  })
  it('lets a department admin open only the staff page', () => {
    const deptAdmin = new Set(['dept_admin'])
    expect(mayOpen('staff', deptAdmin)).toBe(true)
    expect(mayOpen('org', deptAdmin)).toBe(false)
    expect(mayOpen('registry', deptAdmin)).toBe(false)
  })
  it('keeps a clerk out of every admin page', () => {
    expect(mayOpen('staff', new Set(['dept_staff']))).toBe(false)
  })
  it('offers a department admin only the unit roles to grant', () => {
    expect(grantableRoles(new Set(['dept_admin']))).toEqual(['dept_staff', 'dept_admin'])
    expect(grantableRoles(new Set(['admin']))).toContain('dispatcher')
  })
})

describe('refusals and refused rows in words', () => {
  it('explains a unit that still holds cases', () => {
    const error = new ApiError(409, { code: 'unit_has_open_cases' })
    expect(adminProblemText(error)).toBe(t.admin.problems.unit_has_open_cases)
  })
  it('falls back to the common catalog, then to the code', () => {
    expect(adminProblemText(new ApiError(403, { code: 'role_required' })))
      .toBe(t.problems.role_required)
    expect(adminProblemText(new ApiError(400, { code: 'odd_thing' }))).toContain('odd_thing')
  })
  it('names a row refused for a bad checksum, and shows an unknown code as is', () => {
    expect(rowReason('id_number_checksum')).toBe(t.admin.rowCodes.id_number_checksum)
    expect(rowReason('brand_new_code')).toBe('brand_new_code')
  })
})

describe('import progress', () => {
  it('is zero until the rows are counted', () => {
    expect(importPercent({ status: 'reading', total_rows: null, rows_done: 0 })).toBe(0)
  })
  it('follows the rows written', () => {
    expect(importPercent({ status: 'writing', total_rows: 3, rows_done: 2 })).toBe(66)
  })
  it('is full once the import succeeded, even with refused rows', () => {
    expect(importPercent({ status: 'succeeded', total_rows: 3, rows_done: 2 })).toBe(100)
  })
  it('keeps polling only while the import moves', () => {
    expect(importRunning({ status: 'queued' })).toBe(true)
    expect(importRunning({ status: 'writing' })).toBe(true)
    expect(importRunning({ status: 'succeeded' })).toBe(false)
    expect(importRunning({ status: 'failed' })).toBe(false)
  })
})

describe('rates and lists', () => {
  it('prints a rate as the report does, and a dash where no census is set', () => {
    expect(percent(92.73)).toBe('92.73%')
    expect(percent(null)).toBe(t.admin.registry.notSet)
  })
  it('splits host names on commas and spaces, once each', () => {
    expect(splitList(' a.example.cn, b.example.cn，a.example.cn ')).toEqual(
      ['a.example.cn', 'b.example.cn'])
  })
})

describe('the admin menu', () => {
  it('gives a department admin their unit staff page, and the admin the admin pages', () => {
    expect(menuFor(['dept_admin']).map((m) => m.path)).toContain('/admin/staff')
    expect(menuFor(['admin']).map((m) => m.path)).toContain('/admin')
    expect(menuFor(['dept_staff']).map((m) => m.path)).not.toContain('/admin/staff')
  })
})
