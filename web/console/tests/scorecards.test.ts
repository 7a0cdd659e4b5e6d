import { describe, expect, it } from 'vitest'
import { attachmentName, exportPath, monthsUpTo, percent } from '@/lib/scorecards'

describe('scorecards', () => {
  it('shows rates as percentages and a dash without a sample', () => {
    expect(percent(0.8766)).toBe('87.7%')
    expect(percent(1)).toBe('100.0%')
    expect(percent(0)).toBe('0.0%')
    expect(percent(null)).toBe('—')
  })
  it('lists the months of the trend across a new year, oldest first', () => {
    expect(monthsUpTo('2026-02-01', 4)).toEqual(['2025-11-01', '2025-12-01', '2026-01-01', '2026-02-01'])
  })
  it('downloads each table as CSV or XLSX', () => {
    expect(exportPath('units', 'xlsx')).toBe('/api/v1/feedback/scorecards/units.xlsx')
    expect(exportPath('region', 'csv', '350623')).toBe('/api/v1/feedback/scorecards/regions/350623/export.csv')
  })
  it('saves under the name the API gives, else a fallback', () => {
    expect(attachmentName('attachment; filename="unit-scorecards.xlsx"', 'x')).toBe('unit-scorecards.xlsx')
    expect(attachmentName(null, 'scorecards.csv')).toBe('scorecards.csv')
  })
})
