// The phone's position for a report, or null when the resident refused it, the browser has
// none, or it takes too long (the form then asks for a typed address instead).
export interface Fix { lat: number; lng: number }

export function locate(timeoutMs = 10_000): Promise<Fix | null> {
  if (typeof navigator === 'undefined' || !navigator.geolocation) return Promise.resolve(null)
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (position) => resolve({ lat: position.coords.latitude, lng: position.coords.longitude }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 60_000 },
    )
  })
}
