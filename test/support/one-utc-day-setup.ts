// Vitest setup file (both configs): a test file starts only when the next 5 minutes fall on one UTC
// day, so that no test file runs across midnight (see utc-day.ts). 5 minutes are several times the
// longest file's run under load; near midnight a file waits at most that long, once.
import { oneUtcDay } from './utc-day.js';

await oneUtcDay(5 * 60_000);
