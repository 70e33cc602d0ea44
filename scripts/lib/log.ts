// One voice for progress lines: stderr, so stdout stays clean for reports and URLs.
export function log(message: string): void {
  process.stderr.write(`[querybudget] ${message}\n`);
}

export function elapsed(startMs: number): string {
  return `${((performance.now() - startMs) / 1000).toFixed(2)} s`;
}
