// Scorecards as the staff read them: rates as percentages, the months of the trend, and the
// export addresses (the API's CSV and XLSX of the same table).

/** 0.8765 → "87.7%"; no sample → "—". */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`
}

/** The first days of the `count` months ending with the month of `day`, oldest first. */
export function monthsUpTo(day: string, count: number): string[] {
  const [year, month] = day.split('-').map(Number) as [number, number]
  const months: string[] = []
  for (let i = count - 1; i >= 0; i--) {
    const index = year * 12 + (month - 1) - i
    const y = Math.floor(index / 12)
    const m = (index % 12) + 1
    months.push(`${y}-${String(m).padStart(2, '0')}-01`)
  }
  return months
}

export type ExportFormat = 'csv' | 'xlsx'

/** Where a table downloads from: the units' ranking, or a region with its children. */
export function exportPath(table: 'units' | 'region', format: ExportFormat, regionCode = ''): string {
  return table === 'units'
    ? `/api/v1/feedback/scorecards/units.${format}`
    : `/api/v1/feedback/scorecards/regions/${regionCode}/export.${format}`
}

/** The file name a download is saved under, from Content-Disposition, else a fallback. */
export function attachmentName(disposition: string | null, fallback: string): string {
  const match = /filename="?([^";]+)"?/.exec(disposition ?? '')
  return match?.[1] ?? fallback
}
