import type { Usage } from '../../core/canonical.js';
import type { Admission } from '../../governance/types.js';
import { DEFAULT_OUTPUT_CAP } from '../../governance/admission.js';
import type { ItemAudio } from './sent-input.js';

/**
 * The rate a bound counts committed input audio at: twice OpenAI's published 10 tokens a second
 * (as sent-input.ts bounds a response's input audio).
 */
const BOUND_AUDIO_TOKENS_PER_SECOND = 20;
/**
 * The most transcript tokens a second of audio is taken to make: speech runs under 10 (about 3
 * words a second, the fastest speakers twice that), so 32 a second and 16 more leave room for any
 * speech; never past the output cap of a response.
 */
const TRANSCRIPT_TOKENS_PER_SECOND = 32;
const TRANSCRIPT_EXTRA_TOKENS = 16;
/** Transcriptions a session keeps apart at once; more (an upstream that reports none) are summed into one. */
export const MAX_PENDING_TRANSCRIPTIONS = 64;
/** Client clears whose upstream `input_audio_buffer.cleared` is awaited, at most; past it a clear is not counted (an over-count). */
const MAX_PENDING_CLEARS = 64;
/** Items with audio the client created whose upstream `conversation.item.added` is awaited, kept apart at most; more are summed. */
export const MAX_CREATED_ITEMS = 64;

/** An input transcription the upstream has not reported: the audio it transcribes, its model, and its hold. */
export interface PendingTranscription {
  seconds: number;
  model: string;
  hold: Admission | undefined;
}

/** The bound of a transcription of `seconds` of audio: its audio at 20 tokens a second, and its transcript at 32 a second and 16 more. */
export function transcriptionBound(seconds: number): Usage {
  const audio = Math.ceil(seconds * BOUND_AUDIO_TOKENS_PER_SECOND);
  const output = Math.min(DEFAULT_OUTPUT_CAP, TRANSCRIPT_EXTRA_TOKENS + Math.ceil(seconds * TRANSCRIPT_TOKENS_PER_SECOND));
  return { inputTokens: audio, outputTokens: output, cachedInputTokens: 0, audioInputTokens: audio };
}

/**
 * The input transcriptions of a session the upstream has not reported
 * (`conversation.item.input_audio_transcription.completed`), by item: each committed item
 * (`input_audio_buffer.committed`) of a session with an input transcription model is given the
 * audio the client sent since the previous commit (or the clear the upstream confirmed): the most
 * its transcription can bill. At most MAX_PENDING_TRANSCRIPTIONS are kept apart, each with a hold;
 * past them the seconds are summed into one, charged unless every one of them is reported.
 */
export class PendingTranscriptions {
  /** Seconds of audio sent that a commit or a confirmed clear took. */
  private taken = 0;
  /** The seconds sent when each client clear came, until the upstream confirms it. */
  private readonly clears: number[] = [];
  private readonly items = new Map<string, PendingTranscription>();
  /** Transcriptions past MAX_PENDING_TRANSCRIPTIONS: how many, their seconds together, the last model. */
  private overflow = { count: 0, seconds: 0, model: '' };
  /** Items with audio the client created (conversation.item.create), oldest first, until the upstream adds them. */
  private readonly created: ItemAudio[] = [];
  /** Such items past MAX_CREATED_ITEMS: how many, their seconds together (given whole to the first of them the upstream adds). */
  private spill = { count: 0, seconds: 0 };
  /** The item the upstream's last `input_audio_buffer.committed` made: its `conversation.item.added` is no created item. */
  private lastCommitted: string | undefined;

  /** The client's `input_audio_buffer.clear`, when `sentSeconds` of audio had been sent. */
  clientCleared(sentSeconds: number): void {
    if (this.clears.length < MAX_PENDING_CLEARS) this.clears.push(sentSeconds);
  }

  /** The upstream's `input_audio_buffer.cleared`: the audio sent before its clear went with it. */
  cleared(): void {
    const at = this.clears.shift();
    if (at !== undefined) this.taken = Math.max(this.taken, at);
  }

  /**
   * The upstream's `input_audio_buffer.committed`: the item holds the audio sent since the last
   * commit; when `model` transcribes it, it is pending, returned to be held (undefined when summed
   * with the overflow).
   */
  committed(itemId: string | undefined, sentSeconds: number, model: string | undefined): { itemId: string; pending: PendingTranscription } | undefined {
    const seconds = Math.max(0, sentSeconds - this.taken);
    this.taken = Math.max(this.taken, sentSeconds);
    this.lastCommitted = itemId;
    return this.pend(itemId, seconds, model);
  }

  /** An item of `seconds` of audio whose transcription `model` bills: pending, returned to be held (undefined when summed with the overflow). */
  private pend(itemId: string | undefined, seconds: number, model: string | undefined): { itemId: string; pending: PendingTranscription } | undefined {
    if (model === undefined) return undefined;
    if (itemId === undefined || this.items.size >= MAX_PENDING_TRANSCRIPTIONS || this.items.has(itemId)) {
      this.overflow = { count: this.overflow.count + 1, seconds: this.overflow.seconds + seconds, model };
      return undefined;
    }
    const pending: PendingTranscription = { seconds, model, hold: undefined };
    this.items.set(itemId, pending);
    return { itemId, pending };
  }

  /** The client's `conversation.item.create` of an item with audio, awaiting the upstream's word that it was added. */
  clientCreated(item: ItemAudio): void {
    if (this.created.length < MAX_CREATED_ITEMS) this.created.push(item);
    else this.spill = { count: this.spill.count + 1, seconds: this.spill.seconds + item.seconds };
  }

  /**
   * The upstream added a user item with input audio (`conversation.item.added`, beta
   * `conversation.item.created`): one the client created (not the last commit's), matched by the id
   * the client gave it, else the oldest it gave none. Its transcription by `model` is pending from
   * now, returned to be held, as a committed item's. Before, such an item's transcription was
   * neither held nor charged when it was not reported.
   */
  added(itemId: string | undefined, model: string | undefined): { itemId: string; pending: PendingTranscription } | undefined {
    if (itemId !== undefined && itemId === this.lastCommitted) return undefined;
    let at = itemId === undefined ? -1 : this.created.findIndex((c) => c.itemId === itemId);
    if (at < 0) at = this.created.findIndex((c) => c.itemId === undefined);
    let seconds: number;
    if (at >= 0) seconds = this.created.splice(at, 1)[0]?.seconds ?? 0;
    else if (this.spill.count > 0) {
      // Which of the items past the bound this is, is not known: the first added is given all their seconds (an over-count).
      seconds = this.spill.seconds;
      this.spill = { count: this.spill.count - 1, seconds: this.spill.count > 1 && model === undefined ? this.spill.seconds : 0 };
    } else return undefined;
    return this.pend(itemId, seconds, model);
  }

  /** The upstream refused the client event `eventId` (an error event naming it): an item it would have created is not awaited. */
  refused(eventId: string | null): void {
    if (eventId === null) return;
    const at = this.created.findIndex((c) => c.eventId === eventId);
    if (at >= 0) this.created.splice(at, 1);
  }

  /** A pending item's hold, granted: kept while it is pending, released at once when it no longer is. */
  held(itemId: string, pending: PendingTranscription, hold: Admission): void {
    if (this.items.get(itemId) === pending) pending.hold = hold;
    else hold.settle({ usage: undefined, costUsd: 0 });
  }

  /**
   * The upstream reported (or failed) the item's transcription: no longer pending, its hold
   * released. Returns it, undefined for an item not kept apart (one of the overflow: when all of
   * them are reported, their sum is dropped).
   */
  ended(itemId: string | undefined): PendingTranscription | undefined {
    const pending = itemId === undefined ? undefined : this.items.get(itemId);
    if (pending === undefined) {
      if (this.overflow.count > 0 && --this.overflow.count === 0) this.overflow = { count: 0, seconds: 0, model: '' };
      return undefined;
    }
    this.items.delete(itemId as string);
    pending.hold?.settle({ usage: undefined, costUsd: 0 });
    return pending;
  }

  /** The session closed: what is still pending (the overflow summed as one), every hold released. */
  close(): PendingTranscription[] {
    const out = [...this.items.values()];
    this.items.clear();
    for (const p of out) p.hold?.settle({ usage: undefined, costUsd: 0 });
    if (this.overflow.count > 0) out.push({ seconds: this.overflow.seconds, model: this.overflow.model, hold: undefined });
    this.overflow = { count: 0, seconds: 0, model: '' };
    return out;
  }
}
