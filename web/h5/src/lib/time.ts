// Times as people in Zhangzhou read them (Asia/Shanghai), whatever the phone's zone.
const shown = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', hour12: false,
})

export function shownTime(at: string | number | Date): string {
  return shown.format(new Date(at))
}
