// Attachments for tags that cannot send a token: learn each one's kind, then ask for signed
// links (a thumbnail and the original for photos, the original for videos).
import { api, authedFetch, ok } from './client'

export interface Media {
  id: string
  kind: 'image' | 'video' | 'other'
  url: string
  thumbnailUrl?: string
}

async function kindOf(id: string): Promise<Media['kind']> {
  // One byte is enough to read the Content-Type the server sniffed at upload.
  const response = await authedFetch(new Request(
    `${window.location.origin}/api/v1/events/attachments/${id}`, { headers: { Range: 'bytes=0-0' } }))
  void response.body?.cancel()
  const type = response.headers.get('Content-Type') ?? ''
  if (type.startsWith('image/')) return 'image'
  if (type.startsWith('video/')) return 'video'
  return 'other'
}

async function link(id: string, variant: 'original' | 'thumbnail'): Promise<string> {
  const answer = await ok(api.POST('/api/v1/events/attachments/{attachment_id}/link', {
    params: { path: { attachment_id: id }, query: { variant } } }))
  return answer.url
}

export async function loadMedia(id: string): Promise<Media> {
  const kind = await kindOf(id)
  if (kind === 'image') {
    const [url, thumbnailUrl] = await Promise.all([link(id, 'original'), link(id, 'thumbnail')])
    return { id, kind, url, thumbnailUrl }
  }
  return { id, kind, url: await link(id, 'original') }
}

/** Upload a photo (multipart) and answer its attachment id. */
export async function uploadPhoto(file: File): Promise<string> {
  const body = new FormData()
  body.append('file', file, file.name)
  const answer = await ok(api.POST('/api/v1/events/attachments', {
    body: body as unknown as { file: string },
    bodySerializer: (b) => b as unknown as FormData,
  }))
  return answer.id
}
