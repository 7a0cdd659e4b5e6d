// After real-name verification: the session's tokens must carry `verified` (relief checks it in
// the token), so the answer's tokens are kept, or the tokens refreshed when the answer says so
// or when the verification finished later (it is checked in the background).
import type { components } from '@/api/schema'

type Verification = components['schemas']['VerificationRead']

export type NextStep = 'keep_tokens' | 'refresh' | 'wait' | 'rejected'

export function nextStep(answer: Verification): NextStep {
  if (answer.status === 'rejected') return 'rejected'
  if (answer.status === 'pending') return 'wait'
  return answer.tokens ? 'keep_tokens' : 'refresh'
}
