import type { JsonObject } from '../core/canonical.js';
import type { BilledUnits } from './cost.js';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A container's memory_limit ("1g", "4g", "16g", "64g"): what its session is billed in proportion to. */
const MEMORY_LIMIT = /^(\d{1,4})g$/i;

/**
 * The GB of memory a container is billed for: its `memory_limit`, 1 (OpenAI's default) when it says
 * none. OpenAI bills a session 0.03 USD per GB (1g 0.03, 4g 0.12, 16g 0.48, 64g 1.92), so one price
 * per GB prices every size; a size it does not know yet is taken at its number of GB.
 */
export function containerMemoryGb(memoryLimit: unknown): number {
  const m = typeof memoryLimit === 'string' ? MEMORY_LIMIT.exec(memoryLimit) : null;
  const gb = m === null ? 1 : Number(m[1]);
  return gb > 0 ? gb : 1;
}

/** What a Responses request's code_interpreter tools ask for: containers named by id, and the auto ones. */
export interface CodeInterpreterAsk {
  /** Container ids the request names (made by POST /v1/containers, charged there). */
  named: string[];
  /** code_interpreter tools whose container is `auto` (or not said): each makes a container upstream. */
  autoTools: number;
  /** GB of the largest auto container asked for (0 when none). */
  autoGb: number;
}

/** The code_interpreter tools of a Responses request; undefined when it offers none. */
export function codeInterpreterAsk(request: JsonObject | undefined): CodeInterpreterAsk | undefined {
  const tools = request?.tools;
  if (!Array.isArray(tools)) return undefined;
  let ask: CodeInterpreterAsk | undefined;
  for (const tool of tools as unknown[]) {
    if (!isObject(tool) || tool.type !== 'code_interpreter') continue;
    ask ??= { named: [], autoTools: 0, autoGb: 0 };
    const container = tool.container;
    if (typeof container === 'string') {
      ask.named.push(container);
      continue;
    }
    ask.autoTools++;
    ask.autoGb = Math.max(ask.autoGb, containerMemoryGb(isObject(container) ? container.memory_limit : undefined));
  }
  return ask;
}

/**
 * GB of container sessions a Response is charged: each container its `code_interpreter_call` items
 * ran in that the request did not name (a named one was made, and charged, by POST /v1/containers),
 * and at least one per tool asking for an auto container, which OpenAI makes when the Response
 * starts whether or not the model then runs code. Each at the largest memory an auto tool asks for
 * (1 GB by default). What the answer cannot say is taken at its dearest: an auto container reused
 * from an earlier Response (`previous_response_id`) is charged again, and a session is charged whole
 * however few minutes it ran.
 */
export function containerGbOfResponse(ask: CodeInterpreterAsk | undefined, usedContainers: readonly string[] | undefined): number {
  let made = 0;
  if (usedContainers !== undefined && usedContainers.length > 0) {
    // A Set, not indexOf per item: an answer may name many calls (linear in them).
    const seen = new Set<string>(ask?.named);
    for (const id of usedContainers) {
      if (seen.has(id)) continue;
      seen.add(id);
      made++;
    }
  }
  const sessions = Math.max(made, ask?.autoTools ?? 0);
  return sessions * Math.max(1, ask?.autoGb ?? 0);
}

/** The most tool calls a Response may make that a hold takes at its word (OpenAI takes any whole number): past it, this many. */
const MAX_HELD_TOOL_CALLS = 1000;

/**
 * What a Budget holds for the built-in tool fees of a Responses request: for one that bounds its
 * tool calls (`max_tool_calls`), that many calls at the dearest tool it offers (web search, file
 * search, a code interpreter container); and, bounded or not, the auto containers its
 * code_interpreter tools ask for, which OpenAI makes (and bills) whatever the model then calls.
 * Undefined when neither applies: the hold then has no tool fee in it (how many calls a model makes
 * is not known before).
 */
export function toolFeeUnits(body: JsonObject): BilledUnits | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  const max = body.max_tool_calls;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0) {
    const ask = codeInterpreterAsk(body);
    if (ask === undefined || ask.autoTools === 0) return undefined;
    return {
      requests: 0,
      images: 0,
      audioSeconds: 0,
      characters: 0,
      toolCalls: { calls: 0, webSearch: false, fileSearch: false, containerGb: ask.autoGb, autoContainers: ask.autoTools },
    };
  }
  let webSearch = false;
  let fileSearch = false;
  for (const tool of body.tools as unknown[]) {
    if (!isObject(tool) || typeof tool.type !== 'string') continue;
    if (tool.type.startsWith('web_search')) webSearch = true;
    else if (tool.type === 'file_search') fileSearch = true;
  }
  const ask = codeInterpreterAsk(body);
  if (!webSearch && !fileSearch && ask === undefined) return undefined;
  const containerGb = ask === undefined ? 0 : ask.autoTools > 0 ? ask.autoGb : 0;
  return {
    requests: 0,
    images: 0,
    audioSeconds: 0,
    characters: 0,
    toolCalls: { calls: Math.min(max, MAX_HELD_TOOL_CALLS), webSearch, fileSearch, containerGb, autoContainers: ask?.autoTools ?? 0 },
  };
}
