// How the outbox reaches the gateway: the item's Idempotency-Key on every try, JSON bodies,
// photos as multipart, the server's problem code on a refusal, and no endless wait.
import { describe, expect, it } from 'vitest'
import { httpSender } from '../src/lib/outbox/http'

describe('the outbox over HTTP', () => {
  it('sends the body as JSON with the item\'s Idempotency-Key', async () => {
    const seen: Request[] = []
    const sender = httpSender(async (r) => { seen.push(r); return new Response('{}', { status: 201 }) },
      'http://phone.test')
    const answer = await sender.send({ method: 'POST', path: '/api/v1/identity/visits',
      body: { note: 'x' }, idempotencyKey: 'k-1' })
    expect(answer).toEqual({ ok: true })
    expect(seen[0]!.url).toBe('http://phone.test/api/v1/identity/visits')
    expect(seen[0]!.headers.get('Idempotency-Key')).toBe('k-1')
    expect(await seen[0]!.json()).toEqual({ note: 'x' })
  })

  it('answers a refusal with the server\'s code, or the status when it sent no problem', async () => {
    const problem = new Response(JSON.stringify({ code: 'person_not_in_grid', detail: 'no' }),
      { status: 422 })
    let sender = httpSender(async () => problem, 'http://phone.test')
    expect(await sender.send({ method: 'POST', path: '/x', body: {}, idempotencyKey: 'k' }))
      .toEqual({ status: 422, code: 'person_not_in_grid', detail: 'no' })
    sender = httpSender(async () => new Response('<html>', { status: 502 }), 'http://phone.test')
    expect(await sender.send({ method: 'POST', path: '/x', body: {}, idempotencyKey: 'k' }))
      .toMatchObject({ status: 502, code: 'http_502' })
  })

  it('uploads a photo as multipart under its own key and answers its attachment id', async () => {
    let form: FormData | null = null
    let key: string | null = null
    const sender = httpSender(async (r) => {
      form = await r.formData()
      key = r.headers.get('Idempotency-Key')
      return new Response(JSON.stringify({ id: 'att-9' }), { status: 201 })
    }, 'http://phone.test')
    expect(await sender.upload({ key: 'b', blob: new Blob(['png']), name: 'site.png' }))
      .toEqual({ id: 'att-9' })
    expect((form!.get('file') as File).name).toBe('site.png')
    expect(key).toBe('b')
  })

  it('gives up a request left unanswered, so the queue behind it moves again later', async () => {
    const hanging = (r: Request) => new Promise<Response>((_, reject) => {
      const poll = setInterval(() => {
        if (r.signal.aborted) { clearInterval(poll); reject(new Error('aborted')) }
      }, 5)
    })
    const sender = httpSender(hanging, 'http://phone.test', 20)
    await expect(sender.send({ method: 'POST', path: '/x', body: {}, idempotencyKey: 'k' }))
      .rejects.toBeDefined()
  })
})
