// The region picker's levels: regions above the wanted level open to their children, regions
// at it are picked.
import { describe, expect, it } from 'vitest'
import { ancestry, findOption, optionsOf } from '../src/lib/regionTree'

const county = { code: '350623', name: 'County', level: 'county' }
const community = { code: '350623100001', name: 'Community', level: 'community' }
const grid = { code: '350623100001001', name: 'Grid', level: 'grid' }

describe('region cascader options', () => {
  it('lets a level above the wanted one open, and finishes at the wanted level', () => {
    expect(optionsOf([county], 'grid')).toEqual([{ text: 'County', value: '350623', level: 'county', children: [] }])
    expect(optionsOf([community], 'community')).toEqual([{ text: 'Community', value: '350623100001', level: 'community' }])
    expect(optionsOf([grid], 'grid')[0]!.children).toBeUndefined()
  })

  it('finds a loaded option at any depth', () => {
    const tree = optionsOf([county], 'grid')
    tree[0]!.children = optionsOf([community], 'grid')
    expect(findOption(tree, '350623100001')?.text).toBe('Community')
    expect(findOption(tree, 'nope')).toBeNull()
  })
})

describe('a region code given in a link', () => {
  it('opens level by level from its county', () => {
    expect(ancestry('350623100001')).toEqual(['350623', '350623100', '350623100001'])
    expect(ancestry('350623')).toEqual(['350623'])
  })
})
