import { describe, expect, it } from 'vitest'
import { transferReason, unitsForCase } from '@/lib/dispatch'

const unit = (id: string, region_code: string, categories: string[] = [], active = true) =>
  ({ id, name: id, region_code, categories, active })

describe('the dispatcher picks a unit for a case', () => {
  const units = [
    unit('county-police', '350623', ['political_security']),
    unit('county-housing', '350623', ['housing']),
    unit('town-office', '350623100'),
    unit('community', '350623100001'),
    unit('other-town', '350626106'),
    unit('retired', '350623100001', [], false),
  ]
  it('offers the units of the case region and above it, the most local first', () => {
    const ids = unitsForCase(units, '350623100001001', 'political_security').map((u) => u.id)
    expect(ids).toEqual(['community', 'town-office', 'county-police'])
  })
  it('leaves out units that do not take the category, other regions and retired units', () => {
    const ids = unitsForCase(units, '350623100001001', 'dispute_neighbour').map((u) => u.id)
    expect(ids).not.toContain('county-housing')
    expect(ids).not.toContain('other-town')
    expect(ids).not.toContain('retired')
  })
})

describe('a transfer needs a reason', () => {
  it('refuses an empty or one-character reason', () => {
    expect(transferReason('  ')).toBeNull()
    expect(transferReason(' 错')).toBeNull()
  })
  it('sends the reason trimmed', () => {
    expect(transferReason(' 属派出所职责 ')).toBe('属派出所职责')
  })
})
