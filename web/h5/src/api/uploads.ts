// Photos and the short video go up one by one before the report (multipart `file`); the
// report then names their ids. Each upload has its own Idempotency-Key, so a retry after a
// lost answer stores nothing twice.
import { ok, api } from './client'
import { uuid4 } from '@/lib/uuid'

export async function uploadAttachment(file: File): Promise<string> {
  const stored = await ok(api.POST('/api/v1/events/attachments', {
    params: { header: { 'Idempotency-Key': uuid4() } },
    body: { file: file as unknown as string },
    bodySerializer: () => {
      const form = new FormData()
      form.append('file', file, file.name)
      return form
    },
  }))
  return stored.id
}
