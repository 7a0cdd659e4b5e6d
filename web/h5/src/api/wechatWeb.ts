// WeChat web authorisation (snsapi_base): where to send the browser, and the code WeChat sends
// back exchanged for the resident's tokens. Both carry no token (the resident has none yet).
import { ok, publicApi } from './client'
import type { TokenPair } from './resident'

/** Where to send the browser to authorise: WeChat's page (or the sandbox's in tests). */
export async function authorizeUrl(redirectUri: string, state: string): Promise<string> {
  const answer = await ok(publicApi.GET('/api/v1/identity/wechat-web/authorize', {
    params: { query: { redirect_uri: redirectUri, state } },
  }))
  return answer.url
}

/** The code WeChat sent back, exchanged for the resident's tokens (the same account as the
 * mini-program's for the same person). */
export function webLogin(code: string): Promise<TokenPair> {
  return ok(publicApi.POST('/api/v1/identity/wechat-web-login', { body: { code } }))
}
