// The device's location (navigator.geolocation), and the distance a patrol walked.
export interface Fix {
  lat: number
  lng: number
  accuracy_m: number | null
}

export function toFix(position: GeolocationPosition): Fix {
  const { latitude, longitude, accuracy } = position.coords
  return { lat: latitude, lng: longitude, accuracy_m: Number.isFinite(accuracy) ? accuracy : null }
}

/** One fix: a recent one is good enough (check-in, report, visit). */
export function locate(timeoutMs = 10_000): Promise<Fix> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new Error('no geolocation'))
      return
    }
    navigator.geolocation.getCurrentPosition((p) => resolve(toFix(p)), reject,
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 15_000 })
  })
}

const EARTH_RADIUS_M = 6_371_008.8

/** The great-circle distance in metres (haversine). */
export function distanceM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLng = (b.lng - a.lng) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
}
