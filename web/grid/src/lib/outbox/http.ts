// The outbox's way to the gateway: the signed-in worker's token (renewed once on a 401 by the
// client), the item's Idempotency-Key on every try, photos as multipart uploads to events'
// attachments under their own key. A fetch that throws (no signal) throws on: the outbox keeps the item.
import type { StoredPhoto } from './db'
import type { Refused, Sender } from './queue'

type Fetch = (request: Request) => Promise<Response>

// A request still unanswered after this long is given up (and tried again later with the
// same key): on a weak signal a fetch can hang, and the queue behind it would wait for ever.
export const SEND_TIMEOUT_MS = 60_000

export function httpSender(fetcher: Fetch, origin: string, timeoutMs = SEND_TIMEOUT_MS): Sender {
  return {
    async upload(photo: StoredPhoto) {
      const form = new FormData()
      form.append('file', photo.blob, photo.name)
      // The photo's own key: an upload whose answer was lost is answered with the first
      // attachment when tried again, not stored twice.
      const response = await fetcher(new Request(`${origin}/api/v1/events/attachments`, {
        method: 'POST', body: form, headers: { 'Idempotency-Key': photo.key },
        signal: AbortSignal.timeout(timeoutMs),
      }))
      if (!response.ok) return refusal(response)
      const stored = (await response.json()) as { id: string }
      return { id: stored.id }
    },
    async send({ method, path, body, idempotencyKey }) {
      const response = await fetcher(new Request(`${origin}${path}`, {
        method,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
        signal: AbortSignal.timeout(timeoutMs),
      }))
      if (!response.ok) return refusal(response)
      return { ok: true as const }
    },
  }
}

async function refusal(response: Response): Promise<Refused> {
  let code = `http_${response.status}`
  let detail = ''
  try {
    const problem = (await response.json()) as { code?: unknown; detail?: unknown }
    if (typeof problem.code === 'string') code = problem.code
    if (typeof problem.detail === 'string') detail = problem.detail
  } catch {
    // not problem+json (a proxy's page): the status says enough
  }
  return { status: response.status, code, detail }
}
