import { describe, expect, it } from 'vitest'
import { ancestry, parentOf } from '@/lib/regions'

describe('region codes', () => {
  it('reads a grid code as county, town, community and grid', () => {
    expect(ancestry('350623100001001')).toEqual(
      ['350623', '350623100', '350623100001', '350623100001001'])
  })
  it('finds the parent one level up, and none above a county', () => {
    expect(parentOf('350623100')).toBe('350623')
    expect(parentOf('350623')).toBeNull()
  })
})
