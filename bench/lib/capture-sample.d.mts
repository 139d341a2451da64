import type { CaptureInput } from '../../dataplane/policy/capture/capture-record.js';

export declare const CAPTURE_SAMPLE_PROMPT: string;
export declare function captureSampleInput(i: number): CaptureInput;
