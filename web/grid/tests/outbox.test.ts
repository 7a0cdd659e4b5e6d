// The outbox's promises, on a fake IndexedDB and a scripted server: order kept, one
// Idempotency-Key per item for good, photos uploaded once and their ids substituted, kept on
// no signal or a 5xx, dropped with the server's code on a 4xx.
import 'fake-indexeddb/auto'
import { beforeEach, describe, expect, it } from 'vitest'
import { reactive } from 'vue'
import { openOutboxDb } from '../src/lib/outbox/db'
import { backoffMs, Outbox, type Refused, type Sender } from '../src/lib/outbox/queue'

interface Sent { path: string; body: unknown; idempotencyKey: string }

/** A server stand-in: answers from a script per path (default: 201), records what came. */
class Server implements Sender {
  sent: Sent[] = []
  uploads: string[] = []
  offline = false
  answers = new Map<string, (Refused | 'ok')[]>()
  uploadAnswers: (Refused | 'ok')[] = []

  async upload(photo: { name: string }) {
    if (this.offline) throw new TypeError('Failed to fetch')
    const answer = this.uploadAnswers.shift() ?? 'ok'
    if (answer !== 'ok') return answer
    this.uploads.push(photo.name)
    return { id: `att-${this.uploads.length}` }
  }

  async send(request: { method: string; path: string; body: unknown; idempotencyKey: string }) {
    if (this.offline) throw new TypeError('Failed to fetch')
    const answer = this.answers.get(request.path)?.shift() ?? 'ok'
    if (answer !== 'ok') return answer
    this.sent.push({ path: request.path, body: request.body, idempotencyKey: request.idempotencyKey })
    return { ok: true as const }
  }
}

const A = 'worker-a' // the signed-in worker of most tests
const refused = (status: number, code: string): Refused => ({ status, code, detail: '' })

let server: Server
let clock: number
let outbox: Outbox

beforeEach(async () => {
  server = new Server()
  clock = 1_000_000
  outbox = new Outbox(await openOutboxDb(`test-${Math.random()}`), server, () => clock)
})

const draft = (path: string, body: Record<string, unknown> = {}) =>
  ({ kind: 'report', path, body, label: path, owner: A })

describe('the outbox', () => {
  it('sends items in the order they were made and forgets them once taken', async () => {
    await outbox.enqueue(draft('/a'))
    await outbox.enqueue(draft('/b'))
    await outbox.enqueue(draft('/c'))
    expect(await outbox.flush(false, A)).toEqual({ sent: 3, failed: 0, waiting: 0 })
    expect(server.sent.map((s) => s.path)).toEqual(['/a', '/b', '/c'])
    expect(await outbox.items()).toEqual([])
  })

  it('keeps everything without signal and sends it with the same keys when it returns', async () => {
    await outbox.enqueue(draft('/visit'))
    await outbox.enqueue(draft('/report'))
    const keys = (await outbox.items()).map((i) => i.idempotencyKey)
    server.offline = true
    expect(await outbox.flush(false, A)).toEqual({ sent: 0, failed: 0, waiting: 2 })
    const [first] = await outbox.items()
    expect(first!.attempts).toBe(1)
    expect(first!.error).toBe('Failed to fetch')
    server.offline = false
    expect(await outbox.flush(true, A)).toEqual({ sent: 2, failed: 0, waiting: 0 })
    expect(server.sent.map((s) => s.idempotencyKey)).toEqual(keys)
    expect(new Set(keys).size).toBe(2)
  })

  it('retries a 5xx with the same key and never lets a later item overtake it', async () => {
    server.answers.set('/start', [refused(503, 'upstream_unavailable')])
    await outbox.enqueue(draft('/start'))
    await outbox.enqueue(draft('/points'))
    expect(await outbox.flush(false, A)).toEqual({ sent: 0, failed: 0, waiting: 2 })
    expect(server.sent).toEqual([])
    // Not due yet: the pause is respected without force.
    expect(await outbox.flush(false, A)).toEqual({ sent: 0, failed: 0, waiting: 2 })
    clock += backoffMs(1)
    expect(await outbox.flush(false, A)).toEqual({ sent: 2, failed: 0, waiting: 0 })
    expect(server.sent.map((s) => s.path)).toEqual(['/start', '/points'])
  })

  it('drops a refused item with the server code and goes on with the next', async () => {
    server.answers.set('/visit', [refused(422, 'person_not_in_grid')])
    await outbox.enqueue(draft('/visit'))
    await outbox.enqueue(draft('/report'))
    expect(await outbox.flush(false, A)).toEqual({ sent: 1, failed: 1, waiting: 0 })
    const [kept] = await outbox.items()
    expect(kept).toMatchObject({ path: '/visit', status: 'failed', error: 'person_not_in_grid' })
    // A failed item is not sent again by itself...
    expect(await outbox.flush(true, A)).toEqual({ sent: 0, failed: 0, waiting: 0 })
    // ...only when the worker asks, and then with its first key.
    await outbox.retry(kept!.id)
    await outbox.flush(false, A)
    expect(server.sent.map((s) => s.idempotencyKey)).toContain(kept!.idempotencyKey)
  })

  it('keeps an item the server answers 401 or 429 for: the session or the rate comes back', async () => {
    server.answers.set('/a', [refused(401, 'token_expired'), refused(429, 'rate_limited')])
    await outbox.enqueue(draft('/a'))
    expect((await outbox.flush(false, A)).waiting).toBe(1)
    expect((await outbox.flush(true, A)).waiting).toBe(1)
    expect((await outbox.flush(true, A)).sent).toBe(1)
  })

  it('uploads photos first, once, and sends their ids in the body', async () => {
    const photos = [{ blob: new Blob(['one']), name: 'one.jpg' },
      { blob: new Blob(['two']), name: 'two.jpg' }]
    server.answers.set('/events', [refused(500, 'internal')])
    await outbox.enqueue({ ...draft('/events', { attachments: ['given'] }), photos,
      photoField: 'attachments' })
    await outbox.flush(false, A)
    expect(server.uploads).toEqual(['one.jpg', 'two.jpg'])
    await outbox.flush(true, A)
    expect(server.uploads).toEqual(['one.jpg', 'two.jpg']) // not uploaded twice
    expect(server.sent[0]!.body).toEqual({ attachments: ['given', 'att-1', 'att-2'] })
    // The blobs left the device with the item.
    const [photoKey] = (await outbox.items()).flatMap((i) => i.photos)
    expect(photoKey).toBeUndefined()
  })

  it('keeps the photos and the item when an upload has no signal halfway', async () => {
    const photos = [{ blob: new Blob(['a']), name: 'a.jpg' }, { blob: new Blob(['b']), name: 'b.jpg' }]
    server.uploadAnswers = ['ok', refused(502, 'bad_gateway')]
    const item = await outbox.enqueue({ ...draft('/visits'), photos, photoField: 'attachment_ids' })
    expect((await outbox.flush(false, A)).waiting).toBe(1)
    expect(await outbox.photo(item.photos[1]!)).toBeDefined()
    await outbox.flush(true, A)
    expect(server.uploads).toEqual(['a.jpg', 'b.jpg'])
    expect(server.sent[0]!.body).toEqual({ attachment_ids: ['att-1', 'att-2'] })
    expect(await outbox.photo(item.photos[0]!)).toBeUndefined()
  })

  it('shares one flush between concurrent callers: nothing is sent twice', async () => {
    await outbox.enqueue(draft('/a'))
    await Promise.all([outbox.flush(false, A), outbox.flush(false, A), outbox.flush(false, A)])
    expect(server.sent).toHaveLength(1)
  })

  it('discards a failed item with its photos when the worker gives up on it', async () => {
    server.uploadAnswers = [refused(413, 'too_large')]
    const item = await outbox.enqueue({ ...draft('/r'), photos: [{ blob: new Blob(['x']), name: 'x' }],
      photoField: 'attachments' })
    expect((await outbox.flush(false, A)).failed).toBe(1)
    await outbox.discard(item.id)
    expect(await outbox.items()).toEqual([])
    expect(await outbox.photo(item.photos[0]!)).toBeUndefined()
  })

  it('keeps a plain copy of a page\'s reactive form, and what it acts on', async () => {
    const form = reactive({ points: [{ lat: 24.1, lng: 117.6 }], grid_code: '350623100001001' })
    const item = await outbox.enqueue({ ...draft('/patrols/p/points', form), subject: 'p' })
    form.points.push({ lat: 0, lng: 0 }) // the page goes on; the queued item does not change
    const [kept] = await outbox.items()
    expect(kept).toMatchObject({ id: item.id, subject: 'p',
      body: { points: [{ lat: 24.1, lng: 117.6 }], grid_code: '350623100001001' } })
  })

  it('sends only the signed-in worker\'s items; another worker\'s wait for them', async () => {
    await outbox.enqueue({ ...draft('/a-visit'), owner: A })
    await outbox.enqueue({ ...draft('/b-visit'), owner: 'worker-b' })
    expect(await outbox.flush(true, 'worker-b')).toEqual({ sent: 1, failed: 0, waiting: 1 })
    expect(server.sent.map((s) => s.path)).toEqual(['/b-visit'])
    expect(await outbox.flush(true, 'worker-a')).toEqual({ sent: 1, failed: 0, waiting: 0 })
  })

  it('waits longer after each failure, up to five minutes', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([2000, 4000, 8000, 16000])
    expect(backoffMs(30)).toBe(300_000)
  })
})
