import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/errors'
import { problemText } from '@/lib/problemText'

describe('refusals read in Chinese', () => {
  it('says a known refusal in the catalog’s words, not the server’s English detail', () => {
    const error = new ApiError(409, { code: 'illegal_transition', detail: 'cannot accept' })
    expect(problemText(error)).toBe('案件状态已变化，当前不能执行该操作，请刷新后重试')
  })
  it('names the code of an unknown refusal for the helpdesk', () => {
    expect(problemText(new ApiError(422, { code: 'brand_new_code' }))).toBe(
      '操作失败，请稍后重试（brand_new_code）')
  })
  it('says the service is unavailable on a 5xx', () => {
    expect(problemText(new ApiError(502, { code: 'upstream_failed' }))).toBe('服务暂时不可用，请稍后再试')
  })
  it('says the network failed when no answer came', () => {
    expect(problemText(new TypeError('Failed to fetch'))).toBe('网络连接失败，请检查网络后重试')
  })
})
