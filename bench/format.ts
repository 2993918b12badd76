/** Number formats of the benchmark report. */
export const f0 = (n: number): string => Number.isFinite(n) ? n.toFixed(0) : '–'
export const f1 = (n: number): string => Number.isFinite(n) ? n.toFixed(1) : '–'
export const f2 = (n: number): string => Number.isFinite(n) ? n.toFixed(2) : '–'
export const pct = (x: number | null): string => x === null ? '–' : `${(x * 100).toFixed(0)}%`
export const verdict = (ok: boolean): string => ok ? 'met' : '**missed**'
