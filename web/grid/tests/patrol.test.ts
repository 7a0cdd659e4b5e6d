// A patrol's points: batches of fifty or a minute's worth, jitter under 2 m ignored, the
// distance walked added up.
import { describe, expect, it } from 'vitest'
import { addPoint, batchDue, BATCH_POINTS, BATCH_SECONDS, newPatrol } from '../src/lib/patrol'
import { distanceM } from '../src/lib/geo'

const start = new Date('2026-12-06T01:00:00Z')
const at = (seconds: number) => new Date(start.getTime() + seconds * 1000)
const fix = (lat: number, lng: number) => ({ lat, lng, accuracy_m: 5 })

describe('a patrol', () => {
  it('adds the distance between points and ignores jitter under two metres', () => {
    let patrol = newPatrol('p', '350623100001001', start.toISOString())
    patrol = addPoint(patrol, fix(24.117, 117.614), at(0))
    patrol = addPoint(patrol, fix(24.117000005, 117.614), at(5)) // half a millimetre
    patrol = addPoint(patrol, fix(24.118, 117.614), at(60))
    expect(patrol.recorded).toBe(2)
    expect(patrol.buffer).toHaveLength(2)
    expect(patrol.distanceM).toBeCloseTo(111.2, 0)
  })

  it('is due to queue a batch at fifty points or after a minute, never empty', () => {
    let patrol = newPatrol('p', 'g', start.toISOString())
    expect(batchDue(patrol, at(600).getTime())).toBe(false)
    patrol = addPoint(patrol, fix(24.117, 117.614), at(0))
    expect(batchDue(patrol, at(BATCH_SECONDS - 1).getTime())).toBe(false)
    expect(batchDue(patrol, at(BATCH_SECONDS).getTime())).toBe(true)
    for (let n = 1; n < BATCH_POINTS; n++) patrol = addPoint(patrol, fix(24.117 + n * 0.0001, 117.614), at(n))
    expect(batchDue(patrol, at(BATCH_POINTS).getTime())).toBe(true)
  })

  it('measures a degree of latitude as about 111 km', () => {
    expect(distanceM({ lat: 24, lng: 117 }, { lat: 25, lng: 117 })).toBeCloseTo(111_195, -2)
  })
})
