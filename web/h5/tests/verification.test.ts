// After real-name verification the session must carry the verified claim.
import { describe, expect, it } from 'vitest'
import type { TokenPair } from '../src/api/resident'
import { nextStep } from '../src/lib/verification'

const tokens = { access_token: 'a', refresh_token: 'r', expires_in: 900 } as TokenPair

describe('after a verification answer', () => {
  it('waits while pending, stops when rejected', () => {
    expect(nextStep({ status: 'pending', refresh_required: false })).toBe('wait')
    expect(nextStep({ status: 'rejected', reason: 'mismatch', refresh_required: false })).toBe('rejected')
  })
  it('keeps the tokens it brought, else refreshes', () => {
    expect(nextStep({ status: 'verified', tokens, refresh_required: false })).toBe('keep_tokens')
    expect(nextStep({ status: 'verified', refresh_required: true })).toBe('refresh')
  })
})
