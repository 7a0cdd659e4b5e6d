// The population-registry import's calls that need more than JSON: the spreadsheet upload
// (multipart) and errors.csv (bytes, saved by the browser).
import { api, authedFetch, ok } from '@/api/client'
import type { components } from '@/api/schema'

export type ImportJob = components['schemas']['ImportJobRead']

/** Upload an XLSX/CSV file; identity answers the queued import job. */
export async function uploadRegistry(file: File): Promise<ImportJob> {
  const body = new FormData()
  body.append('file', file, file.name)
  return ok(api.POST('/api/v1/identity/registry/imports', {
    body: body as unknown as { file: string },
    bodySerializer: (b) => b as unknown as FormData,
  }))
}

export function importJob(id: string): Promise<ImportJob> {
  return ok(api.GET('/api/v1/identity/registry/imports/{import_id}', {
    params: { path: { import_id: id } } }))
}

/** Fetch errors.csv with the session's token and hand it to the browser as a download. */
export async function downloadErrors(id: string): Promise<void> {
  const response = await authedFetch(new Request(
    `${window.location.origin}/api/v1/identity/registry/imports/${id}/errors.csv`))
  if (!response.ok) throw new Error(`errors.csv: HTTP ${response.status}`)
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = `import-${id}-errors.csv`
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
