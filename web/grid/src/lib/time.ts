// Times as people in Zhangzhou read them (Asia/Shanghai), whatever the phone's zone.
const ZONE = 'Asia/Shanghai'

const shown = new Intl.DateTimeFormat('zh-CN', {
  timeZone: ZONE, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
})
const dayParts = new Intl.DateTimeFormat('en-CA', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
})

export function shownTime(at: string | number | Date): string {
  return shown.format(new Date(at))
}

/** Today's date in Asia/Shanghai, YYYY-MM-DD. */
export function today(now: Date = new Date()): string {
  return dayParts.format(now)
}

/** This month in Asia/Shanghai, YYYY-MM. */
export function thisMonth(now: Date = new Date()): string {
  return today(now).slice(0, 7)
}

/** The device's time as the API takes it (ISO 8601, UTC). */
export function isoNow(): string {
  return new Date().toISOString()
}
