/** The access-log line of `requestId` among `lines` (a pino destination the test collects), waiting up to 2 s for it. */
export async function accessLogLine(lines: readonly Record<string, unknown>[], requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const line = lines.find((l) => l.msg === 'request' && l.requestId === requestId);
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no access-log line for ${requestId}`);
}
