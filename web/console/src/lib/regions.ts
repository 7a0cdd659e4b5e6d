// Region codes are 6 digits (county) and 3 more per level below (town, community, grid); the
// city sits above the counties. The parent of a code is the code one level up.
export function ancestry(code: string): string[] {
  const chain: string[] = []
  for (let n = 6; n <= code.length; n += 3) chain.push(code.slice(0, n))
  return chain
}

export function parentOf(code: string): string | null {
  return code.length > 6 ? code.slice(0, code.length - 3) : null
}
